"""``cluster.mode: stack``: another stack's cluster, through its ``kubeconfig`` output.

Development creates the non-production cluster and staging attaches to it; each environment
keeps to its namespace and GPU quota.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.resources.clusters import AttachedCluster
from components.resources.clusters.lke import decode_kubeconfig


@dataclass(frozen=True)
class StackSource:
    stack_reference: str
    """org/project/stack of the stack that owns the cluster."""
    kubeconfig_output: str
    cluster_id: str | None
    """Overrides the referenced stack's ``clusterId`` output."""

    def attach(self, name: str, parent: pulumi.Resource) -> AttachedCluster:
        ref = pulumi.StackReference(
            f"{name}-stack",
            stack_name=self.stack_reference,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        raw: pulumi.Output[str] = ref.require_output(self.kubeconfig_output).apply(
            lambda v: decode_kubeconfig(str(v))
        )
        kubeconfig: pulumi.Output[str] = pulumi.Output.secret(raw)
        cluster_id = (
            pulumi.Output.from_input(self.cluster_id)
            if self.cluster_id
            else ref.require_output("clusterId").apply(str)
        )
        return AttachedCluster(cluster_id=cluster_id, kubeconfig=kubeconfig, resources=(ref,))
