"""``cluster.mode: create``: an LKE cluster with its system pool, and the GPU pool beside it.

Both are protected when the stack is. The GPU pool is its own ``LkeNodePool`` (so the cluster
never tries to delete it, see components/manifests/lke.py); the autoscaler owns its node count.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_linode as linode

from components.resources.clusters import AttachedCluster


def decode_kubeconfig(value: str) -> str:
    """A kubeconfig as YAML: LKE returns it base64-encoded; YAML passes through unchanged."""
    text = value.strip()
    if "apiVersion" in text or "clusters:" in text:
        return value
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return value


@dataclass(frozen=True)
class LkeSource:
    cluster_args: Mapping[str, Any]
    """``linode.LkeCluster`` arguments (``manifests.lke.cluster_args``)."""
    gpu_pool_args: Mapping[str, Any]
    """``linode.LkeNodePool`` arguments besides the cluster id (``manifests.lke.gpu_pool_args``)."""
    autoscaled: bool
    protect: bool

    def attach(self, name: str, parent: pulumi.Resource) -> AttachedCluster:
        guarded = pulumi.ResourceOptions(parent=parent, protect=self.protect)
        cluster = linode.LkeCluster(f"{name}-lke", **self.cluster_args, opts=guarded)
        pool_opts = pulumi.ResourceOptions.merge(
            guarded,
            # The autoscaler owns the node count once the pool exists.
            pulumi.ResourceOptions(ignore_changes=["nodeCount"] if self.autoscaled else None),
        )
        pool = linode.LkeNodePool(
            f"{name}-gpu-pool",
            cluster_id=cluster.id.apply(int),
            **self.gpu_pool_args,
            opts=pool_opts,
        )
        kubeconfig = pulumi.Output.secret(cluster.kubeconfig.apply(decode_kubeconfig))
        return AttachedCluster(
            # The LKE id, not cluster.clusterId: a replaced cluster must replace the provider.
            cluster_id=cluster.id,
            kubeconfig=kubeconfig,
            gpu_ready=(pool,),
            resources=(cluster, pool),
        )
