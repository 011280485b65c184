"""Locked reads and audited writes of one registry row, shared by ``store`` and ``rollouts``:
every change is an UPDATE of the locked row plus its event, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any, Final

from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from components.registry.rows import (
    ENTRIES_TABLE,
    EVENTS_TABLE,
    ROW_COLUMNS,
    UPDATABLE,
    Conn,
    EntryId,
    EventAction,
    OwnershipError,
    RegistryRow,
)


class Now:
    """Marks a value the database sets to its own ``now()`` (plus ``seconds``)."""

    def __init__(self, seconds: int = 0) -> None:
        self.seconds = int(seconds)

    def sql(self) -> sql.Composable:
        if not self.seconds:
            return sql.SQL("now()")
        return sql.SQL("now() + {}::interval").format(sql.Literal(f"{self.seconds} seconds"))

    def __repr__(self) -> str:
        return f"now() + {self.seconds}s" if self.seconds else "now()"


NOW: Final = Now()


def columns(names: tuple[str, ...]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


SELECT_ROW = sql.SQL("SELECT {cols} FROM {table}").format(
    cols=columns(ROW_COLUMNS), table=sql.Identifier(ENTRIES_TABLE)
)


def _jsonable(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def to_row(data: Mapping[str, Any]) -> RegistryRow:
    return RegistryRow(**{name: data[name] for name in ROW_COLUMNS})


def fetch_row(conn: Conn, environment: str, model_name: str, *, lock: bool) -> RegistryRow | None:
    query = sql.SQL("{select} WHERE environment = %s AND model_name = %s{lock}").format(
        select=SELECT_ROW, lock=sql.SQL(" FOR UPDATE" if lock else "")
    )
    with conn.cursor(row_factory=dict_row) as cur:
        found = cur.execute(query, (environment, model_name)).fetchone()
    return to_row(found) if found is not None else None


def record_event(
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


def changed_columns(row: RegistryRow, wanted: Mapping[str, object]) -> dict[str, object]:
    current = asdict(row)
    out: dict[str, object] = {}
    for name, value in wanted.items():
        if name not in UPDATABLE:
            raise ValueError(f"{name!r} is not an updatable registry column")
        if isinstance(value, Now) or current[name] != value:
            out[name] = value
    return out


def write_row(
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
            sql.Identifier(name), v.sql() if isinstance(v, Now) else sql.Placeholder()
        )
        for name, v in changes.items()
    )
    params = [v for v in changes.values() if not isinstance(v, Now)]
    query = sql.SQL("UPDATE {table} SET {assignments} WHERE id = %s RETURNING {cols}").format(
        table=sql.Identifier(ENTRIES_TABLE), assignments=assignments, cols=columns(ROW_COLUMNS)
    )
    with conn.cursor(row_factory=dict_row) as cur:
        updated = cur.execute(query, [*params, row.id]).fetchone()
    if updated is None:
        raise RuntimeError(f"registry row {row.id} vanished while locked")
    new_row = to_row(updated)
    before, after = asdict(row), asdict(new_row)
    record_event(
        conn,
        entry_id=row.id,
        action=action,
        old={k: before[k] for k in changes},
        new={k: after[k] for k in changes},
        stack=stack,
        note=note,
    )
    return new_row


def stack_name_of(owner: str) -> str:
    """``stack`` of ``<project>/<stack>`` (or of ``<org>/<project>/<stack>``)."""
    return owner.rsplit("/", 1)[-1]


def check_owner(row: RegistryRow, owner: str | None, doing: str) -> bool:
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
