"""LKE cluster and GPU node pool arguments, and what forces their replacement (pure).

The GPU pool is its own ``linode.LkeNodePool`` so it can be resized, protected and replaced on
its own. An ``LkeCluster`` deletes every pool it does not declare unless the pool carries one of
its ``external_pool_tags``; the GPU pool therefore always carries ``EXTERNAL_POOL_TAG`` and the
cluster always lists it (and the system pool never carries it).

Replacement rules (terraform-provider-linode, which pulumi-linode bridges): the cluster's
``region`` (and ``tier``, ``apl_enabled``) are ForceNew; a nested pool whose ``type`` changes is
recreated by the cluster; ``LkeNodePool.cluster_id`` and ``type`` are RequiresReplace. ``label``,
``tags``, ``k8s_version`` (upgrade only) and the control plane are updated in place.
"""

from __future__ import annotations

from typing import Any

from components.config import StackConfig
from components.contract import GPU_TAINT_KEY, GPU_TAINT_VALUE

EXTERNAL_POOL_TAG = "vllm-platform-gpu-pool"


def cluster_label(cfg: StackConfig) -> str:
    """The LKE cluster label: ``cluster.label``, else ``vllm-<environment>``."""
    return cfg.cluster.label or f"vllm-{cfg.environment}"


def cluster_args(cfg: StackConfig) -> dict[str, Any]:
    """Keyword arguments for ``linode.LkeCluster`` (create mode), system pool included."""
    c = cfg.cluster
    control_plane: dict[str, Any] = {"high_availability": c.high_availability}
    if c.control_plane_acl is not None:
        v4 = [a for a in c.control_plane_acl if ":" not in a]
        v6 = [a for a in c.control_plane_acl if ":" in a]
        address: dict[str, list[str]] = {}
        if v4:
            address["ipv4s"] = v4
        if v6:
            address["ipv6s"] = v6
        control_plane["acl"] = {"enabled": True, "addresses": [address] if address else []}
    return {
        "label": cluster_label(cfg),
        "region": c.region,
        "k8s_version": c.k8s_version,
        "tags": list(c.tags),
        "external_pool_tags": [EXTERNAL_POOL_TAG],
        "control_plane": control_plane,
        "pools": [{"type": c.system_pool.type, "count": c.system_pool.count, "tags": list(c.tags)}],
    }


def gpu_pool_tags(cfg: StackConfig) -> list[str]:
    return [*cfg.cluster.tags, EXTERNAL_POOL_TAG]


def gpu_pool_args(cfg: StackConfig) -> dict[str, Any]:
    """Keyword arguments for ``linode.LkeNodePool`` except ``cluster_id``."""
    pool = cfg.cluster.gpu
    args: dict[str, Any] = {
        "type": pool.type,
        "node_count": pool.count,
        "labels": dict(pool.node_labels),
        "tags": gpu_pool_tags(cfg),
        "taints": (
            [{"key": GPU_TAINT_KEY, "value": GPU_TAINT_VALUE, "effect": "NoSchedule"}]
            if pool.taint
            else []
        ),
    }
    if pool.autoscaler is not None:
        args["autoscaler"] = {"min": pool.autoscaler.min, "max": pool.autoscaler.max}
    return args


def replacement_warnings(cfg: StackConfig) -> list[str]:
    """Configured properties whose change replaces the cluster, the GPU pool or the namespace.

    A standing caution for ``ops plan``: each line names the key, its current value and what a
    change to it destroys.
    """
    c = cfg.cluster
    ns = f"namespace={cfg.namespace_name}: a new name replaces the namespace and deletes every "
    ns += "object in it (models are down until recreated)"
    out: list[str] = []
    if c.mode == "create":
        out += [
            f"cluster.region={c.region}: a new region replaces the LKE cluster "
            "(new API endpoint and kubeconfig; every Kubernetes object is recreated)",
            f"cluster.gpuPool.type={c.gpu.type}: a new plan replaces the GPU node pool "
            "(all GPU nodes are drained and deleted; models are down until new nodes are ready)",
            f"cluster.systemPool.type={c.system_pool.type}: a new plan makes LKE create a new "
            "system pool and delete the old one (system pods are rescheduled)",
            f"cluster.k8sVersion={c.k8s_version}: upgrades recycle every node in place; "
            "downgrades are rejected by LKE",
            "cluster.mode=create: switching to stack or kubeconfig mode deletes this stack's LKE "
            "cluster and GPU pool" + (" (refused while protected)" if cfg.protected else ""),
        ]
        if c.high_availability:
            out.append(
                "cluster.highAvailability=true: cannot be turned off again (irreversible in LKE)"
            )
    else:
        out.append(_identity_line(cfg))
    out.append(ns)
    return out


def _identity_line(cfg: StackConfig) -> str:
    """What identifies the cluster to the Kubernetes provider, and what changing it does."""
    c = cfg.cluster
    replaces = "replaces the Kubernetes provider and with it every Kubernetes object of this stack"
    if c.mode == "kubeconfig":
        ident = c.cluster_id or "the kubeconfig context"
        return f"cluster.clusterId={ident}: a new identifier {replaces}"
    if c.cluster_id is not None:
        return (
            f"cluster.clusterId={c.cluster_id}: a literal identity in stack mode; the Kubernetes "
            "provider runs without an identifier (removing one is not a replacement), so a "
            f"cluster replaced in {c.stack_reference} is seen from its kubeconfig's server. "
            "Remove the key after the next `pulumi up`: the provider then takes that stack's "
            "clusterId (adding one is not a replacement either)"
        )
    return (
        f"cluster identity: the clusterId output of {c.stack_reference}; a cluster replaced "
        f"there (a new LKE id) {replaces}, created on the new cluster first"
    )
