"""``cluster.mode: kubeconfig``: an existing cluster from a kubeconfig file and/or context."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pulumi

from components.resources.clusters import AttachedCluster


@dataclass(frozen=True)
class KubeconfigSource:
    path: str | None
    context: str | None
    cluster_id: str | None

    def attach(self, name: str, parent: pulumi.Resource) -> AttachedCluster:
        return AttachedCluster(
            cluster_id=pulumi.Output.from_input(
                self.cluster_id or f"kubeconfig:{self.context or 'current-context'}"
            ),
            kubeconfig_path=os.path.expanduser(self.path) if self.path else None,
            context=self.context,
        )
