"""The program's wiring: config -> cluster -> namespace -> one VllmDeployment per model -> registry.

Every step is a ComponentResource built from the validated ``StackConfig``; nothing here
computes manifests (the pure builders do) or talks to a database (the registry providers do).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.capacity import plan_stack
from components.cluster import GpuCluster, GpuClusterArgs
from components.config import PROJECT, SECRET_KEYS, ConfigError, LoadedStack, StackConfig
from components.config_source import load_from_pulumi
from components.namespace import EnvironmentNamespace, EnvironmentNamespaceArgs

__all__ = ["Platform", "load_or_fail", "run", "wire_platform"]


def load_or_fail() -> LoadedStack:
    """The validated config, or a RunError (no traceback) listing every problem at once."""
    try:
        loaded = load_from_pulumi()
    except ConfigError as exc:
        raise pulumi.RunError(
            "invalid vllm-platform configuration:\n" + "\n".join(f"  {i}" for i in exc.issues)
        ) from None
    missing = loaded.missing_secrets
    if missing:
        lines = [f"  pulumi config set --secret {k}   # {SECRET_KEYS[k][1]}" for k in missing]
        raise pulumi.RunError("secrets not set yet; set them with:\n" + "\n".join(lines))
    return loaded


@dataclass(frozen=True)
class Platform:
    """What per-model wiring builds on: the cluster, the namespace, and options for k8s objects."""

    cluster: GpuCluster
    namespace: EnvironmentNamespace

    @property
    def k8s_opts(self) -> pulumi.ResourceOptions:
        """The cluster's provider; pass ``namespace.namespace_name`` as metadata.namespace."""
        return pulumi.ResourceOptions(provider=self.cluster.provider)


def wire_platform(cfg: StackConfig) -> Platform:
    """GpuCluster -> EnvironmentNamespace, with the Pulumi secrets read as secret Outputs."""
    secrets = pulumi.Config(PROJECT)
    cluster = GpuCluster("cluster", GpuClusterArgs(config=cfg))
    namespace = EnvironmentNamespace(
        "environment",
        EnvironmentNamespaceArgs(
            config=cfg,
            provider=cluster.provider,
            api_key=secrets.require_secret("vllmApiKey"),
            hf_token=secrets.get_secret("hfToken"),
        ),
    )
    if cluster.kubeconfig is not None and cfg.cluster.mode == "create":
        pulumi.export("kubeconfig", cluster.kubeconfig)
        pulumi.export("clusterId", cluster.cluster_id)
    return Platform(cluster=cluster, namespace=namespace)


def run() -> None:
    loaded = load_or_fail()
    cfg = loaded.config
    plan = plan_stack(cfg)
    platform = wire_platform(cfg)

    pulumi.export("environment", cfg.environment)
    pulumi.export("namespace", platform.namespace.namespace_name)
    pulumi.export("endpoints", {m.name: m.endpoint_url for m in plan.models})
