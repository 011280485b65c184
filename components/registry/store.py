"""Reading and writing the model registry: register, retire, reactivate, adopt, read, list.

Every write is one call of the registry's SQL functions (migration 0006, ``calls``), which hold
the state machine, check the caller's role and owner, lock the row and record the event; a row
belongs to the stack that created it (``owner_stack``), and a handover is ``adopt``.
"""

from __future__ import annotations

from dataclasses import asdict

from psycopg import sql
from psycopg.rows import dict_row

from components.registry.calls import SELECT_ROW, call_function, row_by_key, to_row
from components.registry.rows import (
    CHANGE_KINDS,
    EVENT_COLUMNS,
    EVENTS_TABLE,
    HEALTH_STATUSES,
    ChangeKind,
    Conn,
    EntryId,
    EntrySpec,
    EventRow,
    HealthStatus,
    Outcome,
    RegistryRow,
)


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")


def stack_name_of(owner: str) -> str:
    """``stack`` of ``<project>/<stack>`` (or of ``<org>/<project>/<stack>``)."""
    return owner.rsplit("/", 1)[-1]


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
    ``healthy`` also resets the health reporter's failure count. ``owner``: the stack writing
    (a writer role's own stack is implied and may not be another). ``evidence``: the smoke Job
    that passed for ``spec`` (recorded as ``smoke_job`` with ``healthy``); a row in a rollout
    state is settled only by the rollout's own Job.

    Events: ``registered`` (new row), ``reactivated`` (the row was retired), ``updated``
    (fields changed), and ``rolled_back`` instead of any of these when ``change_kind`` is
    ``rollback``. Nothing is written when the row already matches.
    """
    _check_choice("change_kind", change_kind, CHANGE_KINDS)
    if health_status is not None:
        _check_choice("health_status", health_status, HEALTH_STATUSES)
    params: dict[str, object] = {
        **asdict(spec),
        "health_status": health_status,
        "change_kind": change_kind,
        "note": note,
        "owner": owner,
        "evidence": evidence,
    }
    outcome = call_function(conn, "register", spec.environment, spec.model_name, params)
    if outcome is None:
        raise RuntimeError(
            f"registry entry {spec.environment}/{spec.model_name} could be neither inserted "
            "nor found"
        )
    return outcome


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
    params = {"environment": environment, "model_name": model_name, "stack": stack}
    return call_function(
        conn, "retire", environment, model_name, {**params, "note": note, "owner": owner}
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
    params: dict[str, object] = {
        "environment": environment,
        "model_name": model_name,
        "stack": stack,
        "note": note,
        "health_status": health_status,
        "routing_enabled": routing_enabled,
    }
    return call_function(conn, "reactivate", environment, model_name, params)


def adopt(
    conn: Conn,
    environment: str,
    model_name: str,
    *,
    owner: str,
    reason: str,
    by: str | None = None,
) -> Outcome | None:
    """Hand the row over to stack ``owner`` on purpose, recording an ``adopted`` event. Only the
    registry's owner may (a writer role is refused by PostgreSQL).

    None when there is no such row; no event when ``owner`` already owns it.
    """
    if not owner.strip() or "/" not in owner or any(c.isspace() for c in owner):
        raise ValueError(f"owner must look like <project>/<stack>, got {owner!r}")
    if not reason.strip():
        raise ValueError("reason must say why the entry changes hands")
    params = {
        "environment": environment,
        "model_name": model_name,
        "owner": owner,
        "note": f"{reason} (by {by})" if by else reason,
    }
    return call_function(conn, "adopt", environment, model_name, params)


def get_entry(conn: Conn, environment: str, model_name: str) -> RegistryRow | None:
    return row_by_key(conn, environment, model_name)


def list_entries(conn: Conn, environment: str | None = None) -> list[RegistryRow]:
    """Every row (legacy ones included), optionally of one environment, by environment/name."""
    where = sql.SQL(" WHERE environment = %s") if environment is not None else sql.SQL("")
    query = sql.SQL("{select}{where} ORDER BY environment NULLS LAST, model_name, id").format(
        select=SELECT_ROW, where=where
    )
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, (environment,) if environment is not None else ()).fetchall()
    return [to_row(r) for r in rows]


def list_events(conn: Conn, entry_id: EntryId) -> list[EventRow]:
    """The audit events of one entry, oldest first."""
    query = sql.SQL("SELECT {cols} FROM {table} WHERE entry_id = %s ORDER BY id").format(
        cols=sql.SQL(", ").join(sql.Identifier(n) for n in EVENT_COLUMNS),
        table=sql.Identifier(EVENTS_TABLE),
    )
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, (entry_id,)).fetchall()
    return [EventRow(**{name: r[name] for name in EVENT_COLUMNS}) for r in rows]
