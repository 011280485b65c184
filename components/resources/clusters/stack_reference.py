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
    literal_identity: bool = False
    """The stack was deployed with a literal ``cluster.clusterId``: register the provider
    without an identifier for the move to the referenced stack's (removing one does not
    replace the provider; adding one later does not either)."""

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
        # The identity is what the referenced stack reports, so a replaced cluster there
        # replaces this stack's provider (and every object under it) too.
        cluster_id = ref.require_output("clusterId").apply(str)
        return AttachedCluster(
            cluster_id=cluster_id,
            kubeconfig=kubeconfig,
            identified=not self.literal_identity,
            resources=(ref,),
        )
