"""GpuCluster: the stack's Kubernetes cluster and the one provider every Kubernetes object uses.

``cluster.mode`` chooses where the cluster comes from:

- ``create``: an ``LkeCluster`` with a small system pool, plus the GPU pool as its own
  ``LkeNodePool`` (GPU node label, ``nvidia.com/gpu`` NoSchedule taint, autoscaler), both
  protected in production. Exports ``kubeconfig`` (secret, decoded) and ``clusterId``.
- ``stack``: another stack's ``kubeconfig`` output through a ``StackReference`` (development and
  staging share the non-production GPU pool, each in its own namespace).
- ``kubeconfig``: an existing cluster from a kubeconfig file and/or context (a local cluster too).

The provider's ``cluster_identifier`` is stable (the LKE cluster id, ``cluster.clusterId``, or
the referenced stack's ``clusterId``), so a rotated kubeconfig updates the provider instead of
replacing it and every object under it. GPU enablement: see ``components.manifests.device_plugin``.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_linode as linode

from components.config import StackConfig
from components.manifests.device_plugin import (
    GPU_OPERATOR_CHART,
    GPU_OPERATOR_REPO,
    GPU_OPERATOR_VERSION,
    device_plugin_objects,
    gpu_operator_values,
    runtime_class_name,
)
from components.manifests.lke import cluster_args, gpu_pool_args
from components.resources.registration import register_object, resource_name

__all__ = ["GpuCluster", "GpuClusterArgs", "decode_kubeconfig"]


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
class GpuClusterArgs:
    config: StackConfig


class GpuCluster(pulumi.ComponentResource):
    """The cluster (created, referenced or given) and its Kubernetes provider."""

    provider: k8s.Provider
    cluster_id: pulumi.Output[str]
    kubeconfig: pulumi.Output[str] | None
    lke_cluster: linode.LkeCluster | None
    gpu_pool: linode.LkeNodePool | None
    stack_reference: pulumi.StackReference | None
    gpu_ready: list[pulumi.Resource]
    runtime_class_name: str | None

    def __init__(
        self, name: str, args: GpuClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("vllm-platform:infra:GpuCluster", name, None, opts)
        cfg = args.config
        c = cfg.cluster
        child = pulumi.ResourceOptions(parent=self)
        guarded = pulumi.ResourceOptions(parent=self, protect=cfg.protected)
        self.lke_cluster = None
        self.gpu_pool = None
        self.stack_reference = None
        self.kubeconfig = None
        kubeconfig: pulumi.Input[str] | None
        context: str | None = None

        if c.mode == "create":
            self.lke_cluster = linode.LkeCluster(f"{name}-lke", **cluster_args(cfg), opts=guarded)
            pool_opts = pulumi.ResourceOptions.merge(
                guarded,
                # The autoscaler owns the node count once the pool exists.
                pulumi.ResourceOptions(
                    ignore_changes=["nodeCount"] if c.gpu_pool.autoscaler else None
                ),
            )
            self.gpu_pool = linode.LkeNodePool(
                f"{name}-gpu-pool",
                cluster_id=self.lke_cluster.id.apply(int),
                **gpu_pool_args(cfg),
                opts=pool_opts,
            )
            self.kubeconfig = pulumi.Output.secret(
                self.lke_cluster.kubeconfig.apply(decode_kubeconfig)
            )
            kubeconfig = self.kubeconfig
            # The LKE id, not cluster.clusterId: a replaced cluster must replace the provider.
            self.cluster_id = self.lke_cluster.id
        elif c.mode == "stack":
            self.stack_reference = pulumi.StackReference(
                f"{name}-stack", stack_name=c.stack_reference, opts=child
            )
            ref = self.stack_reference
            self.kubeconfig = pulumi.Output.secret(
                ref.require_output(c.kubeconfig_output).apply(lambda v: decode_kubeconfig(str(v)))
            )
            kubeconfig = self.kubeconfig
            self.cluster_id = (
                pulumi.Output.from_input(c.cluster_id)
                if c.cluster_id
                else ref.require_output("clusterId").apply(str)
            )
        else:
            kubeconfig = os.path.expanduser(c.kubeconfig_path) if c.kubeconfig_path else None
            context = c.context
            self.cluster_id = pulumi.Output.from_input(
                c.cluster_id or f"kubeconfig:{c.context or 'current-context'}"
            )

        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            context=context,
            cluster_identifier=self.cluster_id,
            # Without these, any change to a Secret's or ConfigMap's data replaces the object,
            # delete-first (pulumi-kubernetes diff.go:28-34; provider.go:696-726, default false):
            # the API key Secret would vanish under running pods for a moment on every rotation.
            enable_config_map_mutable=True,
            enable_secret_mutable=True,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["kubeconfig"]),
        )
        self.gpu_ready = [self.gpu_pool] if self.gpu_pool is not None else []
        self.runtime_class_name = runtime_class_name(cfg)
        self._enable_gpus(name, cfg)

        self.register_outputs(
            {
                "cluster_id": self.cluster_id,
                "kubeconfig": self.kubeconfig,
                "runtime_class_name": self.runtime_class_name,
            }
        )

    def _enable_gpus(self, name: str, cfg: StackConfig) -> None:
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=self.provider)
        namespaces: dict[str, pulumi.Output[str]] = {}
        for obj in device_plugin_objects(cfg):
            ns_name = obj["metadata"].get("namespace")
            res = register_object(
                resource_name(name, obj),
                obj,
                k8s_opts,
                namespace=namespaces[ns_name] if ns_name is not None else None,
            )
            if isinstance(res, k8s.core.v1.Namespace):
                namespaces[obj["metadata"]["name"]] = res.metadata.name
            else:
                self.gpu_ready.append(res)
        if cfg.cluster.gpu_enablement_resolved == "gpu-operator":
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
