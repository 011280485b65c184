"""The registry's rows and vocabulary: table names, column lists, and the typed rows ``store``
reads and writes (no SQL runs here)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Final, Literal, get_args
from uuid import UUID

import psycopg

ENTRIES_TABLE: Final = "model_registry_entries"
EVENTS_TABLE: Final = "model_registry_events"

Environment = Literal["development", "staging", "production"]
HealthStatus = Literal[
    "unknown", "deploying", "healthy", "unhealthy", "retired", "rolling_out", "rollout_failed"
]
EventAction = Literal[
    "registered",
    "updated",
    "retired",
    "reactivated",
    "rolled_back",
    "health_changed",
    "adopted",
    "rollout_started",
    "rollout_failed",
    "previous_kept",
    "previous_dropped",
]
# Why a registration happens: a normal deploy, or the rollback command restoring a release.
ChangeKind = Literal["deploy", "rollback"]
CHANGE_KINDS: Final[tuple[str, ...]] = get_args(ChangeKind)
ENVIRONMENTS: Final[tuple[str, ...]] = get_args(Environment)
HEALTH_STATUSES: Final[tuple[str, ...]] = get_args(HealthStatus)
# An update is under way or failed: the recorded served fields are the last tested ones.
ROLLOUT_STATUSES: Final[tuple[str, ...]] = ("rolling_out", "rollout_failed")

Conn = psycopg.Connection[Any]
# bigint for tables this platform creates; a legacy table may use uuid or text ids.
EntryId = int | str | UUID


@dataclass(frozen=True, slots=True)
class EntrySpec:
    """The desired registration of one model in one environment (what a deploy declares)."""

    model_name: str
    environment: str
    endpoint_url: str
    routing_enabled: bool
    namespace: str
    deployment_name: str
    image: str
    hf_model_id: str
    model_revision: str
    max_model_len: int
    gpu_type: str
    gpus_per_replica: int
    replicas: int
    stack: str
    base_model_name: str | None = None
    """A LoRA adapter's row: its base model's ``model_name`` (None: a model's own row)."""
    adapter_hf_repo: str | None = None
    adapter_revision: str | None = None


SPEC_FIELDS: Final[tuple[str, ...]] = tuple(f.name for f in fields(EntrySpec))
# An adapter's fields (migration 0008): all set on an adapter's row, all None on a model's.
ADAPTER_FIELDS: Final[tuple[str, ...]] = ("base_model_name", "adapter_hf_repo", "adapter_revision")
KEY_FIELDS: Final[tuple[str, ...]] = ("environment", "model_name")
# Every column an insert sets (vllm_platform_registry_register, migration 0006): other NOT NULL
# columns of a legacy table need a default.
INSERT_COLUMNS: Final[tuple[str, ...]] = (
    *SPEC_FIELDS,
    "health_status",
    "owner_stack",
    "smoke_job",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True, slots=True)
class RegistryRow:
    """One row of the registry as this platform sees it (legacy rows may hold NULLs)."""

    id: EntryId
    model_name: str | None
    environment: str | None
    endpoint_url: str | None
    health_status: str
    routing_enabled: bool
    namespace: str | None
    deployment_name: str | None
    image: str | None
    hf_model_id: str | None
    model_revision: str | None
    max_model_len: int | None
    gpu_type: str | None
    gpus_per_replica: int | None
    replicas: int | None
    stack: str | None
    created_at: datetime | None
    updated_at: datetime | None
    retired_at: datetime | None
    last_health_check_at: datetime | None
    legacy_row: bool
    """The row predates the registry schema (a register takes it over and clears this)."""
    owner_stack: str | None
    """The stack ("<project>/<stack>") that owns the row; None: written before ownership."""
    consecutive_failures: int
    """Failed health probes in a row (the reporter's flap damping)."""
    smoke_job: str | None
    """The smoke Job that passed for the recorded served fields (None: not known)."""
    target_image: str | None
    target_revision: str | None
    target_smoke_job: str | None
    """During a rollout: the smoke Job that must pass before the target is recorded."""
    rollout_started_at: datetime | None
    rollout_deadline_at: datetime | None
    """A ``rolling_out`` row past this is ``rollout_failed`` (the update's timeouts ran out)."""
    base_model_name: str | None
    """A LoRA adapter's row: the base model whose replicas serve it (None: a model's own row)."""
    adapter_hf_repo: str | None
    adapter_revision: str | None

    @property
    def retired(self) -> bool:
        return self.health_status == "retired"

    @property
    def rolling(self) -> bool:
        """A rollout is under way or failed: the served fields are the last tested ones."""
        return self.health_status in ROLLOUT_STATUSES


ROW_COLUMNS: Final[tuple[str, ...]] = tuple(f.name for f in fields(RegistryRow))


def routing_held_for_health(health_status: object, routing_enabled: object) -> bool:
    """The row is out of routing because it failed its probes (``unhealthy`` and not routed:
    what the health reporter leaves with ``healthReporter.unhealthyDisablesRouting``). Without
    new evidence (a passed smoke test) a registration keeps it out (migration 0006's
    ``vllm_platform_registry_register``), so a desired ``routing_enabled: true`` is not drift
    (``providers.entry.diff_entry``)."""
    return health_status == "unhealthy" and routing_enabled is False


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    entry_id: EntryId
    action: str
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None
    at: datetime
    stack: str | None
    note: str | None


EVENT_COLUMNS: Final[tuple[str, ...]] = tuple(f.name for f in fields(EventRow))


@dataclass(frozen=True, slots=True)
class Outcome:
    """The row after a write, and the event recorded for it (None: nothing changed)."""

    entry: RegistryRow
    action: EventAction | None


class OwnershipError(Exception):
    """A stack tried to change or retire a registry entry another stack owns."""
