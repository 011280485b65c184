"""Reading and writing the model registry: register, retire, reactivate, adopt, read, list.

Every write locks its row ``FOR UPDATE`` by the natural key ``(environment, model_name)`` and
records its audit event in the same transaction (``writes``); values travel as query parameters.
Ownership: a row belongs to the stack that created it (``owner_stack``); a handover is ``adopt``.
"""

from __future__ import annotations

from dataclasses import asdict

from psycopg import sql
from psycopg.rows import dict_row

from components.registry.rows import (
    CHANGE_KINDS,
    ENTRIES_TABLE,
    EVENT_COLUMNS,
    EVENTS_TABLE,
    HEALTH_STATUSES,
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
    RegistryRow,
    routing_held_for_health,
    settle_rollout,
)
from components.registry.writes import (
    NOW,
    SELECT_ROW,
    Now,
    changed_columns,
    check_owner,
    columns,
    fetch_row,
    record_event,
    stack_name_of,
    to_row,
    write_row,
)


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
        cols=columns(names),
        params=sql.SQL(", ").join(
            v.sql() if isinstance(v, Now) else sql.Placeholder() for v in values.values()
        ),
        ret=columns(ROW_COLUMNS),
    )
    params = [v for v in values.values() if not isinstance(v, Now)]
    with conn.cursor(row_factory=dict_row) as cur:
        inserted = cur.execute(query, params).fetchone()
    return to_row(inserted) if inserted is not None else None


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")


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
            row = fetch_row(conn, spec.environment, spec.model_name, lock=True)
            if row is not None:
                claim = check_owner(row, owner, "update")
                wanted = _wanted(row, spec, health_status, evidence)
                if claim:
                    wanted["owner_stack"] = owner
                return _update(conn, row, wanted, spec=spec, change_kind=change_kind, note=note)
            outcome = _register_new(
                conn,
                spec,
                health_status=health_status,
                change_kind=change_kind,
                note=note,
                owner=owner,
                evidence=evidence,
            )
            if outcome is not None:
                return outcome
    raise RuntimeError(
        f"registry entry {spec.environment}/{spec.model_name} could be neither inserted nor found"
    )


def _register_new(
    conn: Conn,
    spec: EntrySpec,
    *,
    health_status: HealthStatus | None,
    change_kind: ChangeKind,
    note: str | None,
    owner: str | None,
    evidence: str | None,
) -> Outcome | None:
    """Insert ``spec`` and its event; None when a concurrent registration inserted it first."""
    inserted = _insert(conn, spec, health_status or "unknown", owner, evidence)
    if inserted is None:
        return None
    action: EventAction = "rolled_back" if change_kind == "rollback" else "registered"
    record_event(
        conn,
        entry_id=inserted.id,
        action=action,
        old=None,
        new=_spec_values(inserted),
        stack=spec.stack,
        note=note,
    )
    return Outcome(inserted, action)


def _wanted(
    row: RegistryRow, spec: EntrySpec, health_status: HealthStatus | None, evidence: str | None
) -> dict[str, object]:
    """The columns a registration of ``spec`` asks of the existing ``row``."""
    wanted: dict[str, object] = {k: v for k, v in asdict(spec).items() if k not in KEY_FIELDS}
    wanted.update(retired_at=None, legacy_row=False)
    health_status = settle_rollout(row, wanted, health_status, evidence)
    if health_status is not None:
        wanted["health_status"] = health_status
    elif row.retired:
        wanted["health_status"] = "unknown"
        wanted["smoke_job"] = None  # the tested pods are gone (report.sql relies on it)
    if health_status is None and routing_held_for_health(row.health_status, row.routing_enabled):
        # Taken out of routing for failing probes: without new evidence (a passed smoke test)
        # a registration does not route it again.
        wanted["routing_enabled"] = False
    if wanted.get("health_status") == "healthy":
        wanted["consecutive_failures"] = 0
        if evidence is not None:
            wanted["smoke_job"] = evidence
    return wanted


def _update(
    conn: Conn,
    row: RegistryRow,
    wanted: dict[str, object],
    *,
    spec: EntrySpec,
    change_kind: ChangeKind,
    note: str | None,
) -> Outcome:
    """Write what ``wanted`` changes of ``row`` (nothing when it already matches)."""
    changes = changed_columns(row, wanted)
    if not changes:
        return Outcome(row, None)
    action: EventAction
    if change_kind == "rollback":
        action = "rolled_back"
    else:
        action = "reactivated" if row.retired else "updated"
    written = write_row(conn, row=row, changes=changes, action=action, stack=spec.stack, note=note)
    return Outcome(written, action)


def _spec_values(row: RegistryRow) -> dict[str, object]:
    data = asdict(row)
    return {k: data[k] for k in (*SPEC_FIELDS, "health_status")}


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
        row = fetch_row(conn, environment, model_name, lock=True)
        if row is None:
            return None
        check_owner(row, owner, "retire")
        if row.retired:
            return Outcome(row, None)
        changes: dict[str, object] = {"routing_enabled": False, "health_status": "retired"}
        changes["retired_at"] = NOW
        # A rollout under way ends with the row (nothing of it is served any more).
        changes.update({c: None for c in TARGET_COLUMNS if getattr(row, c) is not None})
        return Outcome(
            write_row(conn, row=row, changes=changes, action="retired", stack=stack, note=note),
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
        row = fetch_row(conn, environment, model_name, lock=True)
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
            write_row(conn, row=row, changes=changes, action="reactivated", stack=stack, note=note),
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
        row = fetch_row(conn, environment, model_name, lock=True)
        if row is None:
            return None
        if row.owner_stack == owner:
            return Outcome(row, None)
        note = f"{reason} (by {by})" if by else reason
        return Outcome(
            write_row(
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
    return fetch_row(conn, environment, model_name, lock=False)


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
        cols=columns(EVENT_COLUMNS), table=sql.Identifier(EVENTS_TABLE)
    )
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, (entry_id,)).fetchall()
    return [EventRow(**{name: r[name] for name in EVENT_COLUMNS}) for r in rows]
