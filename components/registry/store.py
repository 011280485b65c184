"""Reading and writing the model registry: plain psycopg 3 functions over one connection.

Every write runs in one transaction together with the audit event it produces, so the events
table is a complete history of what this platform did. All values travel as query parameters;
identifiers (column names) come only from the fixed lists below, composed with ``psycopg.sql``.
Rows are found by their natural key ``(environment, model_name)`` and locked ``FOR UPDATE``
before being changed, so concurrent writers of the same model serialise instead of losing
updates, and writers of different models never wait for each other.

Ownership: a row belongs to the stack that created it (``owner_stack``, "<project>/<stack>").
Writes that pass ``owner`` (the ``RegistryEntry`` provider always does) check it on the locked
row inside the same transaction and raise ``OwnershipError`` naming the owner; a handover is
``adopt`` (``python -m ops registry adopt``), which records an ``adopted`` event. A row written
before ownership existed (``owner_stack`` NULL) is claimed by the first owner-checked write from
the stack its ``stack`` column names (or by any stack when that is NULL: a legacy row).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any, Final

from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from components.registry.rows import (
    _UPDATABLE,
    CHANGE_KINDS,
    ENTRIES_TABLE,
    ENVIRONMENTS,
    EVENT_COLUMNS,
    EVENTS_TABLE,
    HEALTH_STATUSES,
    INSERT_COLUMNS,
    KEY_FIELDS,
    ROW_COLUMNS,
    SPEC_FIELDS,
    TARGET_COLUMNS,
    ChangeKind,
    Conn,
    EntryId,
    EntrySpec,
    EventAction,
    EventRow,
    HealthStatus,
    Outcome,
    OwnershipError,
    RegistryRow,
    routing_held_for_health,
    settle_rollout,
)

__all__ = [
    "CHANGE_KINDS",
    "ENTRIES_TABLE",
    "ENVIRONMENTS",
    "EVENTS_TABLE",
    "HEALTH_STATUSES",
    "INSERT_COLUMNS",
    "KEY_FIELDS",
    "SPEC_FIELDS",
    "ChangeKind",
    "EntrySpec",
    "EventAction",
    "EventRow",
    "HealthStatus",
    "Outcome",
    "OwnershipError",
    "RegistryRow",
    "adopt",
    "get_entry",
    "list_entries",
    "list_events",
    "reactivate",
    "register",
    "retire",
    "stack_name_of",
    "update_entry",
]


class _Now:
    """Marks a value the database sets to its own ``now()`` (plus ``seconds``)."""

    def __init__(self, seconds: int = 0) -> None:
        self.seconds = int(seconds)

    def sql(self) -> sql.Composable:
        if not self.seconds:
            return sql.SQL("now()")
        return sql.SQL("now() + {}::interval").format(sql.Literal(f"{self.seconds} seconds"))

    def __repr__(self) -> str:
        return f"now() + {self.seconds}s" if self.seconds else "now()"


NOW: Final = _Now()


def _cols(names: tuple[str, ...]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


_SELECT_ROW = sql.SQL("SELECT {cols} FROM {table}").format(
    cols=_cols(ROW_COLUMNS), table=sql.Identifier(ENTRIES_TABLE)
)


def _jsonable(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def _row(data: Mapping[str, Any]) -> RegistryRow:
    return RegistryRow(**{name: data[name] for name in ROW_COLUMNS})


def _fetch(conn: Conn, environment: str, model_name: str, *, lock: bool) -> RegistryRow | None:
    query = sql.SQL("{select} WHERE environment = %s AND model_name = %s{lock}").format(
        select=_SELECT_ROW, lock=sql.SQL(" FOR UPDATE" if lock else "")
    )
    with conn.cursor(row_factory=dict_row) as cur:
        found = cur.execute(query, (environment, model_name)).fetchone()
    return _row(found) if found is not None else None


def _event(
    conn: Conn,
    *,
    entry_id: EntryId,
    action: EventAction,
    old: Mapping[str, object] | None,
    new: Mapping[str, object] | None,
    stack: str | None,
    note: str | None,
) -> None:
    conn.execute(
        sql.SQL(
            "INSERT INTO {table} (entry_id, action, old_values, new_values, stack, note) "
            "VALUES (%s, %s, %s, %s, %s, %s)"
        ).format(table=sql.Identifier(EVENTS_TABLE)),
        (
            entry_id,
            action,
            Jsonb({k: _jsonable(v) for k, v in old.items()}) if old is not None else None,
            Jsonb({k: _jsonable(v) for k, v in new.items()}) if new is not None else None,
            stack,
            note,
        ),
    )


def _changed(row: RegistryRow, wanted: Mapping[str, object]) -> dict[str, object]:
    current = asdict(row)
    out: dict[str, object] = {}
    for name, value in wanted.items():
        if name not in _UPDATABLE:
            raise ValueError(f"{name!r} is not an updatable registry column")
        if isinstance(value, _Now) or current[name] != value:
            out[name] = value
    return out


def _write(
    conn: Conn,
    *,
    row: RegistryRow,
    changes: Mapping[str, object],
    action: EventAction,
    stack: str | None,
    note: str | None,
) -> RegistryRow:
    """UPDATE the changed columns of ``row`` and record ``action`` with old and new values."""
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(
            sql.Identifier(name), v.sql() if isinstance(v, _Now) else sql.Placeholder()
        )
        for name, v in changes.items()
    )
    params = [v for v in changes.values() if not isinstance(v, _Now)]
    query = sql.SQL("UPDATE {table} SET {assignments} WHERE id = %s RETURNING {cols}").format(
        table=sql.Identifier(ENTRIES_TABLE), assignments=assignments, cols=_cols(ROW_COLUMNS)
    )
    with conn.cursor(row_factory=dict_row) as cur:
        updated = cur.execute(query, [*params, row.id]).fetchone()
    if updated is None:
        raise RuntimeError(f"registry row {row.id} vanished while locked")
    new_row = _row(updated)
    before, after = asdict(row), asdict(new_row)
    _event(
        conn,
        entry_id=row.id,
        action=action,
        old={k: before[k] for k in changes},
        new={k: after[k] for k in changes},
        stack=stack,
        note=note,
    )
    return new_row


def _insert(
    conn: Conn, spec: EntrySpec, health_status: str, owner: str | None, evidence: str | None
) -> RegistryRow | None:
    # created_at/updated_at are set here, not left to defaults: a legacy table keeps its own.
    values: dict[str, object] = {
        **asdict(spec),
        "health_status": health_status,
        "owner_stack": owner,
        "smoke_job": evidence if health_status == "healthy" else None,
        "created_at": NOW,
        "updated_at": NOW,
    }
    names = tuple(values)
    query = sql.SQL(
        "INSERT INTO {table} ({cols}) VALUES ({params}) "
        "ON CONFLICT (environment, model_name) DO NOTHING RETURNING {ret}"
    ).format(
        table=sql.Identifier(ENTRIES_TABLE),
        cols=_cols(names),
        params=sql.SQL(", ").join(
            v.sql() if isinstance(v, _Now) else sql.Placeholder() for v in values.values()
        ),
        ret=_cols(ROW_COLUMNS),
    )
    params = [v for v in values.values() if not isinstance(v, _Now)]
    with conn.cursor(row_factory=dict_row) as cur:
        inserted = cur.execute(query, params).fetchone()
    return _row(inserted) if inserted is not None else None


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")


def stack_name_of(owner: str) -> str:
    """``stack`` of ``<project>/<stack>`` (or of ``<org>/<project>/<stack>``)."""
    return owner.rsplit("/", 1)[-1]


def _check_owner(row: RegistryRow, owner: str | None, doing: str) -> bool:
    """Raise ``OwnershipError`` unless ``owner`` may write ``row``; True: claim the row."""
    if owner is None or row.owner_stack == owner:
        return False
    if row.owner_stack is None and row.stack in (None, stack_name_of(owner)):
        return True
    holder = row.owner_stack or f"stack {row.stack!r} (unclaimed)"
    raise OwnershipError(
        f"registry entry {row.environment}/{row.model_name} belongs to {holder}, not {owner}: "
        f"refusing to {doing} it. If {owner} should own it, hand it over on purpose with "
        f"`python -m ops registry adopt --environment {row.environment} "
        f"--model {row.model_name} --owner {owner} --reason ...`; if this stack's environment "
        "or model name is a mistake, fix the stack's config"
    )


def register(
    conn: Conn,
    spec: EntrySpec,
    *,
    health_status: HealthStatus | None = "healthy",
    change_kind: ChangeKind = "deploy",
    note: str | None = None,
    owner: str | None = None,
    evidence: str | None = None,
) -> Outcome:
    """Make the registry hold ``spec``: insert, re-activate a retired row, or update in place.

    ``health_status`` None keeps an existing row's health (a retired row becomes ``unknown``,
    a new row is inserted ``unknown``): health is only set ``healthy`` on evidence. Setting
    ``healthy`` also resets the health reporter's failure count. ``owner``: see the module.
    ``evidence``: the smoke Job that passed for ``spec`` (recorded as ``smoke_job`` with
    ``healthy``); a row in a rollout state is settled by ``rows.settle_rollout``.

    Events: ``registered`` (new row), ``reactivated`` (the row was retired), ``updated``
    (fields changed), and ``rolled_back`` instead of any of these when ``change_kind`` is
    ``rollback``. Nothing is written when the row already matches.
    """
    _check_choice("change_kind", change_kind, CHANGE_KINDS)
    if health_status is not None:
        _check_choice("health_status", health_status, HEALTH_STATUSES)
    with conn.transaction():
        # Two rounds at most: a concurrent first registration of the same key makes our INSERT
        # do nothing, and the second round then finds (and locks) the committed row.
        for _ in range(2):
            row = _fetch(conn, spec.environment, spec.model_name, lock=True)
            if row is None:
                inserted = _insert(conn, spec, health_status or "unknown", owner, evidence)
                if inserted is None:
                    continue
                action: EventAction = "rolled_back" if change_kind == "rollback" else "registered"
                _event(
                    conn,
                    entry_id=inserted.id,
                    action=action,
                    old=None,
                    new=_spec_values(inserted),
                    stack=spec.stack,
                    note=note,
                )
                return Outcome(inserted, action)
            claim = _check_owner(row, owner, "update")
            wanted: dict[str, object] = {
                k: v for k, v in asdict(spec).items() if k not in KEY_FIELDS
            }
            wanted.update(retired_at=None, legacy_row=False)
            health_status = settle_rollout(row, wanted, health_status, evidence)
            if health_status is not None:
                wanted["health_status"] = health_status
            elif row.retired:
                wanted["health_status"] = "unknown"
                wanted["smoke_job"] = None  # the tested pods are gone (report.sql relies on it)
            if health_status is None and routing_held_for_health(
                row.health_status, row.routing_enabled
            ):
                # Taken out of routing for failing probes: without new evidence (a passed
                # smoke test) a registration does not route it again.
                wanted["routing_enabled"] = False
            if wanted.get("health_status") == "healthy":
                wanted["consecutive_failures"] = 0
                if evidence is not None:
                    wanted["smoke_job"] = evidence
            if claim:
                wanted["owner_stack"] = owner
            changes = _changed(row, wanted)
            if not changes:
                return Outcome(row, None)
            if change_kind == "rollback":
                action = "rolled_back"
            else:
                action = "reactivated" if row.retired else "updated"
            return Outcome(
                _write(conn, row=row, changes=changes, action=action, stack=spec.stack, note=note),
                action,
            )
    raise RuntimeError(
        f"registry entry {spec.environment}/{spec.model_name} could be neither inserted nor found"
    )


def _spec_values(row: RegistryRow) -> dict[str, object]:
    data = asdict(row)
    return {k: data[k] for k in (*SPEC_FIELDS, "health_status")}


def update_entry(
    conn: Conn,
    environment: str,
    model_name: str,
    changes: Mapping[str, object],
    *,
    stack: str | None,
    note: str | None = None,
    action: EventAction = "updated",
    owner: str | None = None,
) -> Outcome | None:
    """Change some columns of an existing row; None when there is no such row."""
    with conn.transaction():
        row = _fetch(conn, environment, model_name, lock=True)
        if row is None:
            return None
        _check_owner(row, owner, "update")
        changed = _changed(row, changes)
        if not changed:
            return Outcome(row, None)
        return Outcome(
            _write(conn, row=row, changes=changed, action=action, stack=stack, note=note), action
        )


def retire(
    conn: Conn,
    environment: str,
    model_name: str,
    *,
    stack: str | None,
    note: str | None = None,
    owner: str | None = None,
) -> Outcome | None:
    """Take a model out of routing and mark it retired; the row and its history stay.

    None when there is no such row; no event when it is already retired. ``owner``: only the
    owning stack may retire the row (``OwnershipError`` otherwise).
    """
    with conn.transaction():
        row = _fetch(conn, environment, model_name, lock=True)
        if row is None:
            return None
        _check_owner(row, owner, "retire")
        if row.retired:
            return Outcome(row, None)
        changes: dict[str, object] = {"routing_enabled": False, "health_status": "retired"}
        changes["retired_at"] = NOW
        # A rollout under way ends with the row (nothing of it is served any more).
        changes.update({c: None for c in TARGET_COLUMNS if getattr(row, c) is not None})
        return Outcome(
            _write(conn, row=row, changes=changes, action="retired", stack=stack, note=note),
            "retired",
        )


def reactivate(
    conn: Conn,
    environment: str,
    model_name: str,
    *,
    stack: str | None,
    note: str | None = None,
    health_status: HealthStatus = "unknown",
    routing_enabled: bool = False,
) -> Outcome | None:
    """Bring a retired row back (health unknown and not routed unless told otherwise).

    None when there is no such row; no event when it is not retired.
    """
    _check_choice("health_status", health_status, HEALTH_STATUSES)
    if health_status == "retired":
        raise ValueError("reactivate needs a health status other than retired")
    with conn.transaction():
        row = _fetch(conn, environment, model_name, lock=True)
        if row is None:
            return None
        if not row.retired:
            return Outcome(row, None)
        changes = {
            "health_status": health_status,
            "retired_at": None,
            "routing_enabled": routing_enabled,
        }
        if health_status != "healthy" and row.smoke_job is not None:
            changes["smoke_job"] = None  # the tested pods are gone (report.sql relies on it)
        return Outcome(
            _write(conn, row=row, changes=changes, action="reactivated", stack=stack, note=note),
            "reactivated",
        )


def adopt(
    conn: Conn,
    environment: str,
    model_name: str,
    *,
    owner: str,
    reason: str,
    by: str | None = None,
) -> Outcome | None:
    """Hand the row over to stack ``owner`` on purpose, recording an ``adopted`` event.

    None when there is no such row; no event when ``owner`` already owns it.
    """
    if not owner.strip() or "/" not in owner or any(c.isspace() for c in owner):
        raise ValueError(f"owner must look like <project>/<stack>, got {owner!r}")
    if not reason.strip():
        raise ValueError("reason must say why the entry changes hands")
    with conn.transaction():
        row = _fetch(conn, environment, model_name, lock=True)
        if row is None:
            return None
        if row.owner_stack == owner:
            return Outcome(row, None)
        note = f"{reason} (by {by})" if by else reason
        return Outcome(
            _write(
                conn,
                row=row,
                changes={"owner_stack": owner},
                action="adopted",
                stack=stack_name_of(owner),
                note=note,
            ),
            "adopted",
        )


def get_entry(conn: Conn, environment: str, model_name: str) -> RegistryRow | None:
    return _fetch(conn, environment, model_name, lock=False)


def list_entries(conn: Conn, environment: str | None = None) -> list[RegistryRow]:
    """Every row (legacy ones included), optionally of one environment, by environment/name."""
    where = sql.SQL(" WHERE environment = %s") if environment is not None else sql.SQL("")
    query = sql.SQL("{select}{where} ORDER BY environment NULLS LAST, model_name, id").format(
        select=_SELECT_ROW, where=where
    )
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, (environment,) if environment is not None else ()).fetchall()
    return [_row(r) for r in rows]


def list_events(conn: Conn, entry_id: EntryId) -> list[EventRow]:
    """The audit events of one entry, oldest first."""
    query = sql.SQL("SELECT {cols} FROM {table} WHERE entry_id = %s ORDER BY id").format(
        cols=_cols(EVENT_COLUMNS), table=sql.Identifier(EVENTS_TABLE)
    )
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, (entry_id,)).fetchall()
    return [EventRow(**{name: r[name] for name in EVENT_COLUMNS}) for r in rows]
