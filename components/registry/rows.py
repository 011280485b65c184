"""The registry's rows and vocabulary: table names, column lists, and the typed rows ``store``
reads and writes (no SQL runs here)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Final, Literal, get_args
from uuid import UUID

import psycopg

__all__ = [
    "CHANGE_KINDS",
    "ENTRIES_TABLE",
    "ENVIRONMENTS",
    "EVENTS_TABLE",
    "EVENT_COLUMNS",
    "HEALTH_STATUSES",
    "INSERT_COLUMNS",
    "KEY_FIELDS",
    "ROW_COLUMNS",
    "SPEC_FIELDS",
    "ChangeKind",
    "Conn",
    "EntryId",
    "EntrySpec",
    "Environment",
    "EventAction",
    "EventRow",
    "HealthStatus",
    "Outcome",
    "OwnershipError",
    "RegistryRow",
]

ENTRIES_TABLE: Final = "model_registry_entries"
EVENTS_TABLE: Final = "model_registry_events"

Environment = Literal["development", "staging", "production"]
HealthStatus = Literal["unknown", "deploying", "healthy", "unhealthy", "retired"]
EventAction = Literal[
    "registered", "updated", "retired", "reactivated", "rolled_back", "health_changed", "adopted"
]
# Why a registration happens: a normal deploy, or the rollback command restoring a release.
ChangeKind = Literal["deploy", "rollback"]
CHANGE_KINDS: Final[tuple[str, ...]] = get_args(ChangeKind)
ENVIRONMENTS: Final[tuple[str, ...]] = get_args(Environment)
HEALTH_STATUSES: Final[tuple[str, ...]] = get_args(HealthStatus)

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


SPEC_FIELDS: Final[tuple[str, ...]] = tuple(f.name for f in fields(EntrySpec))
KEY_FIELDS: Final[tuple[str, ...]] = ("environment", "model_name")
# Columns a write may change (the key never changes; legacy columns are never touched).
_UPDATABLE: Final[frozenset[str]] = frozenset(SPEC_FIELDS) - set(KEY_FIELDS) | {
    "health_status",
    "retired_at",
    "last_health_check_at",
    "legacy_row",
    "owner_stack",
    "consecutive_failures",
}
# Every column an insert sets: other NOT NULL columns of a legacy table need a default.
INSERT_COLUMNS: Final[tuple[str, ...]] = (
    *SPEC_FIELDS,
    "health_status",
    "owner_stack",
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

    @property
    def retired(self) -> bool:
        return self.health_status == "retired"


ROW_COLUMNS: Final[tuple[str, ...]] = tuple(f.name for f in fields(RegistryRow))


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
