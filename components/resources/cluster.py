"""GpuCluster: the stack's Kubernetes cluster and the one provider every Kubernetes object uses.

``cluster.mode`` picks the source (``create``: LKE, ``stack``: another stack's kubeconfig,
``kubeconfig``: an existing cluster; components/resources/clusters/). The provider's
``cluster_identifier`` is stable, so a rotated kubeconfig updates it instead of replacing every
object under it, and a replaced cluster (a new LKE id, here or in the referenced stack)
replaces it (docs/provider-semantics.md, "Engine").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.config import ClusterConfig, StackConfig
from components.manifests.device_plugin import (
    GPU_OPERATOR_CHART,
    GPU_OPERATOR_REPO,
    GPU_OPERATOR_VERSION,
    device_plugin_objects,
    gpu_operator_values,
    runtime_class_name,
)
from components.manifests.lke import cluster_args, gpu_pool_args
from components.manifests.toolkit import Manifest
from components.resources.clusters import ClusterSource
from components.resources.clusters.kubeconfig import KubeconfigSource
from components.resources.clusters.lke import LkeSource
from components.resources.clusters.stack_reference import StackSource
from components.resources.registration import register_child


@dataclass(frozen=True)
class GpuClusterArgs:
    source: ClusterSource
    """Where the cluster comes from (components/resources/clusters/)."""
    gpu_objects: Sequence[Manifest]
    """GPU enablement objects to register (``device_plugin_objects``; empty for none)."""
    gpu_operator: bool = False
    """Install the NVIDIA GPU Operator with Helm."""
    runtime_class_name: str | None = None


def cluster_source(cfg: StackConfig) -> ClusterSource:
    """The source ``cluster.mode`` names, with its arguments built from the config."""
    c: ClusterConfig = cfg.cluster
    if c.mode == "create":
        return LkeSource(
            cluster_args=cluster_args(cfg),
            gpu_pool_args=gpu_pool_args(cfg),
            autoscaled=c.gpu.autoscaler is not None,
            protect=cfg.protected,
        )
    if c.mode == "stack":
        if c.stack_reference is None:  # the config refuses this; kept for the type checker
            raise ValueError("cluster.stackReference: required when mode is stack")
        return StackSource(
            stack_reference=c.stack_reference,
            kubeconfig_output=c.kubeconfig_output,
            literal_identity=c.cluster_id is not None,
        )
    return KubeconfigSource(path=c.kubeconfig_path, context=c.context, cluster_id=c.cluster_id)


def gpu_cluster_args(cfg: StackConfig) -> GpuClusterArgs:
    """The component's arguments for the stack, built by the pure builders."""
    return GpuClusterArgs(
        source=cluster_source(cfg),
        gpu_objects=tuple(device_plugin_objects(cfg)),
        gpu_operator=cfg.cluster.gpu_enablement_resolved == "gpu-operator",
        runtime_class_name=runtime_class_name(cfg),
    )


class GpuCluster(pulumi.ComponentResource):
    """The cluster (created, referenced or given) and its Kubernetes provider."""

    provider: k8s.Provider
    cluster_id: pulumi.Output[str]
    kubeconfig: pulumi.Output[str] | None
    gpu_ready: list[pulumi.Resource]
    runtime_class_name: str | None

    def __init__(
        self, name: str, args: GpuClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("vllm-platform:infra:GpuCluster", name, None, opts)
        attached = args.source.attach(name, self)
        self.kubeconfig = attached.kubeconfig
        self.cluster_id = attached.cluster_id
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=attached.kubeconfig or attached.kubeconfig_path,
            context=attached.context,
            cluster_identifier=self.cluster_id if attached.identified else None,
            # Without these, any change to a Secret's or ConfigMap's data replaces the object,
            # delete-first (pulumi-kubernetes diff.go:28-34; provider.go:696-726, default false):
            # the API key Secret would vanish under running pods for a moment on every rotation.
            enable_config_map_mutable=True,
            enable_secret_mutable=True,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["kubeconfig"]),
        )
        self.gpu_ready = list(attached.gpu_ready)
        self.runtime_class_name = args.runtime_class_name
        self._enable_gpus(name, args)

        self.register_outputs(
            {
                "cluster_id": self.cluster_id,
                "kubeconfig": self.kubeconfig,
                "runtime_class_name": self.runtime_class_name,
            }
        )

    def _enable_gpus(self, name: str, args: GpuClusterArgs) -> None:
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=self.provider)
        namespaces: dict[str, pulumi.Output[str]] = {}
        for obj in args.gpu_objects:
            ns_name = obj["metadata"].get("namespace")
            res = register_child(
                name,
                obj,
                k8s_opts,
                previous_name=f"{name}-{obj['metadata']['name']}",
                namespace=namespaces[ns_name] if ns_name is not None else None,
            )
            if isinstance(res, k8s.core.v1.Namespace):
                namespaces[obj["metadata"]["name"]] = res.metadata.name
            else:
                self.gpu_ready.append(res)
        if args.gpu_operator:
            (namespace,) = namespaces.values()
            release = k8s.helm.v3.Release(
                f"{name}-gpu-operator",
                name=GPU_OPERATOR_CHART,
                chart=GPU_OPERATOR_CHART,
                version=GPU_OPERATOR_VERSION,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=GPU_OPERATOR_REPO),
                namespace=namespace,
                values=gpu_operator_values(),
                timeout=900,
                opts=k8s_opts,
            )
            self.gpu_ready.append(release)
