"""The program's wiring: config -> cluster -> namespace -> registry schema and roles -> per model
a RegistryRollout then its VllmDeployment -> one RegistryEntry per model and per LoRA adapter.

Every step is a ComponentResource built from the validated ``StackConfig``; nothing here
computes manifests (the pure builders do) or talks to a database (the registry providers do).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pulumi

from components.config import PROJECT, ConfigError, LoadedStack, ModelConfig, StackConfig
from components.config.lora import LoraAdapter
from components.config.source import load_from_pulumi
from components.manifests.health_reporter import health_reporter_objects
from components.manifests.stack import validate_stack
from components.manifests.vllm.render import kept_names
from components.planning.capacity import StackPlan
from components.planning.closing import not_deployable_yet
from components.planning.release import ROLLBACK_ENV, current_git_commit, release_record
from components.resources.cluster import GpuCluster, gpu_cluster_args
from components.resources.health_reporter import HealthReporter, HealthReporterArgs
from components.resources.namespace import EnvironmentNamespace, environment_namespace_args
from components.resources.prepull import ImagePrePuller, image_prepuller_args
from components.resources.registry import (
    RegistryEntry,
    RegistryPrevious,
    RegistryPreviousArgs,
    RegistryRollout,
    RegistryRolloutArgs,
    RegistrySchema,
    RegistrySchemaArgs,
    entry_args,
    owner_stack_name,
    registry_dsn,
)
from components.resources.registry_roles import RegistryRoles, RegistryRolesArgs
from components.resources.vllm import (
    VllmDeployment,
    rollout_deadline_seconds,
    smoke_job_name_of,
    vllm_deployment_args,
)
from components.resources.weights import WeightStore, weight_store_args


def load_or_fail() -> tuple[LoadedStack, StackPlan]:
    """The validated config and its plan, or a RunError (no traceback) listing every problem."""
    try:
        loaded = load_from_pulumi()
        plan, _ = validate_stack(loaded)
        pending = not_deployable_yet(loaded.config)
        if pending:
            raise ConfigError(pending)
    except ConfigError as exc:
        raise pulumi.RunError(
            "invalid vllm-platform configuration:\n" + "\n".join(f"  {i}" for i in exc.issues)
        ) from None
    missing = loaded.missing_secrets
    if missing:
        lines = [f"  pulumi config set --secret {k}   # {loaded.purpose(k)}" for k in missing]
        raise pulumi.RunError("secrets not set yet; set them with:\n" + "\n".join(lines))
    return loaded, plan


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
    """GpuCluster -> (WeightStore, when a model streams) -> EnvironmentNamespace, with the
    Pulumi secrets, the bucket key and the bucket's endpoint read as secret Outputs."""
    secrets = pulumi.Config(PROJECT)
    cluster = GpuCluster("cluster", gpu_cluster_args(cfg))
    store_args = weight_store_args(cfg)
    store = WeightStore("weights", store_args) if store_args is not None else None
    namespace = EnvironmentNamespace(
        "environment",
        environment_namespace_args(
            cfg,
            provider=cluster.provider,
            api_key=secrets.require_secret("vllmApiKey"),
            hf_token=secrets.get_secret("hfToken"),
            weights=store.secret_values if store is not None else None,
        ),
    )
    if cluster.kubeconfig is not None and cfg.cluster.mode == "create":
        pulumi.export("kubeconfig", cluster.kubeconfig)
        pulumi.export("clusterId", cluster.cluster_id)
    return Platform(cluster=cluster, namespace=namespace)


@dataclass(frozen=True)
class ModelWiring:
    """One model's server and the registry rollout marker its workload waits for."""

    deployment: VllmDeployment
    rollout: RegistryRollout


def wire_models(
    cfg: StackConfig,
    plan: StackPlan,
    platform: Platform,
    writer_dsn: pulumi.Output[str],
    prepuller: ImagePrePuller | None = None,
    *,
    at: datetime | None = None,
) -> dict[str, ModelWiring]:
    """Per model: a RegistryRollout (the registry says ``rolling_out`` before any pod changes),
    then its VllmDeployment, whose workload waits for it and for the image pre-puller; both
    once the GPUs are advertised. ``at``: when a kept revision's window is judged."""
    opts = pulumi.ResourceOptions(
        provider=platform.cluster.provider, depends_on=platform.cluster.gpu_ready
    )
    rollback_to = os.environ.get(ROLLBACK_ENV)
    wired: dict[str, ModelWiring] = {}
    for model in cfg.models:
        args = vllm_deployment_args(
            cfg, model, plan.model(model.name), platform.namespace.namespace_name, at
        )
        if model.streams_weights:
            args = replace(args, weights_gate=platform.namespace.weights_secret)
        if prepuller is not None and prepuller.daemon_set is not None:
            args = replace(
                args, image_gate=prepuller.daemon_set, pull_seconds=prepuller.pull_seconds
            )
        rollout = RegistryRollout(
            f"{model.name}-rollout",
            RegistryRolloutArgs(
                connection=writer_dsn,
                model_name=model.name,
                environment=cfg.environment,
                owner_stack=owner_stack_name(),
                stack=pulumi.get_stack(),
                target_image=model.image,
                target_revision=model.revision,
                target_smoke_job=smoke_job_name_of(args),
                deadline_seconds=rollout_deadline_seconds(args),
                note=f"rollback to stack version {rollback_to}" if rollback_to else None,
            ),
            pulumi.ResourceOptions(depends_on=platform.cluster.gpu_ready),
        )
        deployment = VllmDeployment(model.name, replace(args, rollout_gate=rollout), opts)
        wired[model.name] = ModelWiring(deployment, rollout)
    return wired


def wire_prepuller(cfg: StackConfig, platform: Platform) -> ImagePrePuller | None:
    """The image pre-puller on the GPU nodes (nothing registered when switched off)."""
    if not cfg.timing.pre_pull_images:
        return None
    return ImagePrePuller(
        "image-prepuller",
        image_prepuller_args(cfg, platform.namespace.namespace_name),
        platform.k8s_opts,
    )


def wire_registry(cfg: StackConfig) -> pulumi.Output[str]:
    """Schema, then roles; returns the writers' DSN, which resolves once the tables and the
    writer's grants exist (the rollout markers, entries and health reporter connect with it)."""
    secrets = pulumi.Config(PROJECT)
    reg = cfg.registry
    owner_password = secrets.require_secret("registryPassword")
    owner_dsn = registry_dsn(reg, reg.user, owner_password)
    schema = RegistrySchema(
        "registry-schema", RegistrySchemaArgs(connection=owner_dsn, database=reg.database)
    )
    if reg.manage_roles:
        roles = RegistryRoles(
            "registry-roles",
            RegistryRolesArgs(
                config=reg,
                writer_role=cfg.writer_role,
                reader_role=cfg.reader_role,
                owner_password=owner_password,
                writer_password=secrets.require_secret("registryWriterPassword"),
                reader_password=secrets.require_secret("registryReaderPassword"),
                database=schema.database,
                environment=cfg.environment,
                owner_stack=owner_stack_name(),
            ),
        )
        return roles.writer_dsn
    # The owner writes the entries; its DSN only carries the schema dependency through this.
    return pulumi.Output.all(owner_dsn, schema.schema_version).apply(lambda v: str(v[0]))


def wire_entries(
    cfg: StackConfig,
    plan: StackPlan,
    models: dict[str, ModelWiring],
    entry_dsn: pulumi.Output[str],
    at: datetime | None = None,
) -> None:
    """Each model's entry and each of its LoRA adapters', once its server answered its smoke
    test (which covers the adapters); then, for a model whose previous revision is kept serving
    at ``at``, its rollback target.

    During ``ops rollback --yes`` the registry events record the change as ``rolled_back``.
    """
    for model in cfg.models:
        wiring = models[model.name]
        entry = _entry(cfg, model, wiring, entry_dsn)
        # One entry per LoRA adapter: the same endpoint, smoke Job (it sends a completion to
        # every adapter on every replica) and rollout, registered by the same gate.
        for adapter in model.lora_adapters:
            _entry(cfg, model, wiring, entry_dsn, adapter)
        kept = kept_names(cfg, model, plan.model(model.name), at)
        if kept is not None and model.rollout.previous is not None:
            RegistryPrevious(
                f"{model.name}-previous",
                RegistryPreviousArgs(
                    connection=entry_dsn,
                    model_name=model.name,
                    environment=cfg.environment,
                    owner_stack=owner_stack_name(),
                    stack=pulumi.get_stack(),
                    image=model.rollout.previous.image,
                    revision=model.rollout.previous.revision,
                    smoke_job=kept[1],
                    deployment_name=kept[0],
                    until=model.rollout.previous.until,
                ),
                # keep_previous needs the row serving the new revision: after the entry's
                # write (no output of it is an input here).
                pulumi.ResourceOptions(depends_on=[entry]),
            )


def _entry(
    cfg: StackConfig,
    model: ModelConfig,
    wiring: ModelWiring,
    entry_dsn: pulumi.Output[str],
    adapter: LoraAdapter | None = None,
) -> RegistryEntry:
    """The entry of ``model`` (or of its ``adapter``); the endpoint only resolves once the smoke
    Job passed: ready gates the registration."""
    dep, rollout = wiring.deployment, wiring.rollout
    rollback_to = os.environ.get(ROLLBACK_ENV)
    endpoint = pulumi.Output.all(dep.endpoint_url, dep.ready).apply(_ready_endpoint(model.name))
    return RegistryEntry(
        f"{adapter.name if adapter is not None else model.name}-registry",
        entry_args(
            cfg,
            model,
            connection=entry_dsn,
            endpoint_url=endpoint,
            deployment_name=dep.workload_name,
            stack=pulumi.get_stack(),
            owner_stack=owner_stack_name(),
            smoke_evidence=dep.smoke_test_job_name,
            change_kind="rollback" if rollback_to else "deploy",
            note=f"rollback to stack version {rollback_to}" if rollback_to else None,
            rollout=rollout.rollout_id,
            adapter=adapter,
        ),
    )


def _ready_endpoint(model: str) -> Callable[[list[Any]], str]:
    def check(values: list[Any]) -> str:
        url, ready = values
        if not ready:
            raise pulumi.RunError(f"{model}: the smoke test did not pass; not registering it")
        return str(url)

    return check


def wire_health_reporter(
    cfg: StackConfig, platform: Platform, writer_dsn: pulumi.Output[str]
) -> None:
    """The CronJob that keeps health_status true; its first run waits for the writer's grants."""
    if not cfg.health_reporter.enabled:
        return
    HealthReporter(
        "health-reporter",
        HealthReporterArgs(
            # Only this stack's entries: a canary or copy cannot write production's health.
            objects=tuple(health_reporter_objects(cfg, owner=owner_stack_name())),
            # Through the writer DSN the reporter's objects wait for the tables and the grants.
            writer_password=pulumi.Output.secret(
                pulumi.Output.all(
                    pulumi.Config(PROJECT).require_secret("registryWriterPassword"), writer_dsn
                ).apply(lambda v: str(v[0]))
            ),
            namespace=platform.namespace.namespace_name,
        ),
        platform.k8s_opts,
    )


def run() -> None:
    loaded, plan = load_or_fail()
    cfg = loaded.config
    platform = wire_platform(cfg)
    prepuller = wire_prepuller(cfg, platform)
    writer_dsn = wire_registry(cfg)
    at = datetime.now(UTC)  # one clock reading: the kept workloads and targets agree
    models = wire_models(cfg, plan, platform, writer_dsn, prepuller, at=at)
    wire_entries(cfg, plan, models, writer_dsn, at)
    wire_health_reporter(cfg, platform, writer_dsn)
    deployments = {name: m.deployment for name, m in models.items()}

    pulumi.export("environment", cfg.environment)
    pulumi.export("namespace", platform.namespace.namespace_name)
    pulumi.export("endpoints", {name: d.endpoint_url for name, d in deployments.items()})
    pulumi.export("release", release_record(cfg, current_git_commit()))
