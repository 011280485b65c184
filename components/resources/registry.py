"""Pulumi resources for the registry: ``RegistrySchema`` and one ``RegistryEntry`` per model.

Their providers' logic is in ``components/registry/providers/`` (one module each);
``components/program.py`` (``wire_registry``) wires them: the entry's endpoint is an Output
that resolves only once the model's smoke test passed, so the dependency comes from the value
(no ``depends_on``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import pulumi

from components.config import ModelConfig, RegistryConfig, StackConfig
from components.config.lora import LoraAdapter
from components.registry import migrate as migrations
from components.registry.connection import build_dsn
from components.registry.providers import (
    CONNECTION,
    RegistryEntryProvider,
    RegistryPreviousProvider,
    RegistryRolloutProvider,
    RegistrySchemaProvider,
    RegistryWriterBindingProvider,
)
from components.registry.providers.entry import ENTRY_OUTPUTS
from components.registry.providers.previous import PREVIOUS_ACTION
from components.registry.providers.rollout import ROLLOUT_ID
from components.registry.rows import ChangeKind
from components.resources.dynamic import DynamicResource


def owner_stack_name() -> str:
    """``<project>/<stack>`` of the running program: who owns the entries it creates."""
    return f"{pulumi.get_project()}/{pulumi.get_stack()}"


def registry_dsn(
    config: RegistryConfig, user: pulumi.Input[str], password: pulumi.Input[str]
) -> pulumi.Output[str]:
    """A secret DSN for ``user`` on the configured registry database."""
    dsn = pulumi.Output.all(user, password).apply(
        lambda up: build_dsn(
            host=config.host,
            port=config.port,
            database=config.database,
            user=str(up[0]),
            password=str(up[1]),
            sslmode=config.sslmode,
            sslrootcert=config.libpq_root_cert,
        )
    )
    return pulumi.Output.secret(dsn)


def _props(args: Any, outputs: tuple[str, ...]) -> dict[str, object]:
    """A dynamic resource's inputs: every field of ``args`` by its name (the connection made
    secret), then its outputs unset. Not ``dataclasses.asdict``: it deep-copies the values, and
    an ``Output`` must be passed as it is, not copied."""
    props: dict[str, object] = {f.name: getattr(args, f.name) for f in fields(args)}
    props[CONNECTION] = pulumi.Output.secret(args.connection)
    props.update(dict.fromkeys(outputs))
    return props


@dataclass(frozen=True)
class RegistrySchemaArgs:
    connection: pulumi.Input[str]
    """DSN of the owner user (it runs the migrations); made secret."""
    database: pulumi.Input[str]
    """The registry database's name (a different database replaces the resource)."""


class RegistrySchema(DynamicResource, module="registry", name="RegistrySchema"):
    """Applies the registry's SQL migrations; a new migration file shows as an update.

    Deleting the resource keeps the tables and their data.
    """

    database: pulumi.Output[str]
    migrations: pulumi.Output[dict[str, str]]
    """``NNNN_name`` -> sha256 of each migration the database records as applied."""
    applied_versions: pulumi.Output[list[int]]
    schema_version: pulumi.Output[int]

    def __init__(
        self, name: str, args: RegistrySchemaArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = _props(args, ("migrations", "applied_versions", "schema_version"))
        props["migrations"] = {m.key: m.checksum for m in migrations.load_migrations()}
        secret = pulumi.ResourceOptions(additional_secret_outputs=[CONNECTION])
        super().__init__(
            RegistrySchemaProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret)
        )


@dataclass(frozen=True)
class RegistryEntryArgs:
    connection: pulumi.Input[str]
    """DSN of the writer role (or the owner when roles are not managed); made secret."""
    model_name: pulumi.Input[str]
    environment: pulumi.Input[str]
    endpoint_url: pulumi.Input[str]
    routing_enabled: pulumi.Input[bool]
    namespace: pulumi.Input[str]
    deployment_name: pulumi.Input[str]
    image: pulumi.Input[str]
    hf_model_id: pulumi.Input[str]
    model_revision: pulumi.Input[str]
    max_model_len: pulumi.Input[int]
    gpu_type: pulumi.Input[str]
    gpus_per_replica: pulumi.Input[int]
    replicas: pulumi.Input[int]
    stack: pulumi.Input[str]
    owner_stack: pulumi.Input[str]
    """``<project>/<stack>`` (``owner_stack_name()``): only this stack may change the entry."""
    smoke_evidence: pulumi.Input[str] | None = None
    """The smoke Job that passed for what is deployed (its name hashes the server and the test);
    an update writes health ``healthy`` only when this changed."""
    change_kind: pulumi.Input[ChangeKind] = "deploy"
    """``rollback`` records the change as ``rolled_back`` (set by ``python -m ops rollback``)."""
    note: pulumi.Input[str] | None = None
    """Free text stored with the change's audit event (e.g. the release or rollback reason)."""
    rollout: pulumi.Input[str] | None = None
    """The model's ``RegistryRollout.rollout_id``: a new value makes the entry settle the row."""
    base_model_name: str | None = None
    """A LoRA adapter's entry: the base model whose replicas serve it (None: a model's own)."""
    adapter_hf_repo: str | None = None
    adapter_revision: str | None = None


class RegistryEntry(DynamicResource, module="registry", name="RegistryEntry"):
    """A model's row in the registry, written once its deployment is ready and smoke-tested.

    Create registers it (health ``healthy``, routing as configured; ``reactivated`` when the row
    was retired), update writes the changed fields (health ``healthy`` only with new smoke
    evidence; a row its ``RegistryRollout`` marked ``rolling_out`` gets the new served fields
    and ``healthy`` only once that rollout's smoke Job is the evidence), delete retires the row
    and keeps it. All three are refused for an entry another stack owns. Changing
    ``environment`` or ``model_name`` replaces the resource.
    """

    entry_id: pulumi.Output[int | str]
    """The row's id (a string when a legacy table uses uuid or text ids)."""
    owner_stack: pulumi.Output[str]
    model_name: pulumi.Output[str]
    environment: pulumi.Output[str]
    endpoint_url: pulumi.Output[str]
    routing_enabled: pulumi.Output[bool]
    health_status: pulumi.Output[str]
    image: pulumi.Output[str]
    model_revision: pulumi.Output[str]
    registry_action: pulumi.Output[str | None]
    """The audit action the last create/update recorded (None when nothing changed)."""

    def __init__(
        self, name: str, args: RegistryEntryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = _props(args, ENTRY_OUTPUTS)
        secret = pulumi.ResourceOptions(additional_secret_outputs=[CONNECTION])
        super().__init__(
            RegistryEntryProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret)
        )


@dataclass(frozen=True)
class RegistryRolloutArgs:
    connection: pulumi.Input[str]
    """DSN of the entries' writer; made secret."""
    model_name: str
    environment: str
    owner_stack: str
    stack: str
    target_image: str
    target_revision: str
    target_smoke_job: str
    """The name of the smoke Job the update creates (it hashes the served pod template)."""
    deadline_seconds: int
    """How long the update may take once this resource ran (``rollout_deadline_seconds``)."""
    note: str | None = None


class RegistryRollout(DynamicResource, module="registry", name="RegistryRollout"):
    """Marks a model's registry row ``rolling_out`` (target image, revision, smoke Job and
    deadline) before its workload changes: the workload's inputs wait for ``rollout_id``.

    Create or a changed target writes the state when a row exists that the target would change;
    the model's ``RegistryEntry`` records the target and ``healthy`` once the smoke Job passed.
    Delete does nothing.
    """

    rollout_id: pulumi.Output[str]
    """Changes whenever this resource started a rollout (the entry takes it as an input)."""
    health_status: pulumi.Output[str | None]

    def __init__(
        self, name: str, args: RegistryRolloutArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = _props(args, (ROLLOUT_ID, "health_status"))
        secret = pulumi.ResourceOptions(additional_secret_outputs=[CONNECTION])
        super().__init__(
            RegistryRolloutProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret)
        )


@dataclass(frozen=True)
class RegistryPreviousArgs:
    connection: pulumi.Input[str]
    """DSN of the entries' writer; made secret."""
    model_name: str
    environment: str
    owner_stack: str
    stack: str
    image: str
    revision: str
    smoke_job: str
    """The smoke Job that passed for the kept revision (its name hashes what it served)."""
    deployment_name: str
    """The kept revision's workload, still running."""
    until: str
    """The window's end (``rollout.previous.until``)."""


class RegistryPrevious(DynamicResource, module="registry", name="RegistryPrevious"):
    """Names the kept revision the row's rollback target until the window's end, once the row
    serves the new revision (``keep_previous``; the program makes it depend on the model's
    ``RegistryEntry``, which settles the row); delete clears it (``drop_previous``). Only
    registered while the kept revision's replicas run (``planning.keep_previous``)."""

    registry_action: pulumi.Output[str | None]

    def __init__(
        self, name: str, args: RegistryPreviousArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = _props(args, (PREVIOUS_ACTION,))
        secret = pulumi.ResourceOptions(additional_secret_outputs=[CONNECTION])
        super().__init__(
            RegistryPreviousProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret)
        )


def entry_args(
    config: StackConfig,
    model: ModelConfig,
    *,
    connection: pulumi.Input[str],
    endpoint_url: pulumi.Input[str],
    deployment_name: pulumi.Input[str],
    stack: str,
    owner_stack: str,
    smoke_evidence: pulumi.Input[str] | None = None,
    change_kind: ChangeKind = "deploy",
    note: str | None = None,
    rollout: pulumi.Input[str] | None = None,
    adapter: LoraAdapter | None = None,
) -> RegistryEntryArgs:
    """The registry entry of ``model`` from validated config plus the deployment's outputs; with
    ``adapter``, the entry of that LoRA adapter of ``model``: its own name, the base model's
    endpoint and served fields, the base model's name and the adapter's repository and revision
    (migration 0008; docs/registry-contract.md)."""
    cpu = model.accelerator == "cpu"
    return RegistryEntryArgs(
        connection=connection,
        model_name=adapter.name if adapter is not None else model.name,
        environment=config.environment,
        endpoint_url=endpoint_url,
        routing_enabled=model.routing_enabled,
        namespace=config.namespace_name,
        deployment_name=deployment_name,
        image=model.image,
        hf_model_id=model.hf_model_id,
        model_revision=model.revision,
        max_model_len=model.max_model_len,
        gpu_type="cpu" if cpu else config.cluster.gpu.plan.gpu_model,
        gpus_per_replica=0 if cpu else model.gpus_per_replica,
        replicas=model.replicas,
        stack=stack,
        owner_stack=owner_stack,
        smoke_evidence=smoke_evidence,
        change_kind=change_kind,
        note=note,
        rollout=rollout,
        base_model_name=model.name if adapter is not None else None,
        adapter_hf_repo=adapter.hf_repo if adapter is not None else None,
        adapter_revision=adapter.revision if adapter is not None else None,
    )


@dataclass(frozen=True)
class RegistryWriterBindingArgs:
    connection: pulumi.Input[str]
    """DSN of the owner user (only the owner may bind); made secret."""
    role: pulumi.Input[str]
    """The writer role; pass the created role's name so the binding waits for it."""
    environment: str
    owner_stack: str
    """``<project>/<stack>``: the only stack whose rows the role may write."""


class RegistryWriterBinding(DynamicResource, module="registry", name="RegistryWriterBinding"):
    """Binds a writer role to its environment and stack in the registry: the registry's functions
    take a writer's identity from this binding. Delete unbinds the role (it writes nothing)."""

    role: pulumi.Output[str]

    def __init__(
        self, name: str, args: RegistryWriterBindingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=[CONNECTION])
        super().__init__(
            RegistryWriterBindingProvider(),
            name,
            _props(args, ()),
            pulumi.ResourceOptions.merge(opts, secret),
        )
