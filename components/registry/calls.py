"""Calling the registry's SQL functions (migration 0006), the only way anyone but the schema owner
writes the registry: named parameters, the row as it is after the call, refusals as exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, get_args

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from components.registry.rows import (
    ENTRIES_TABLE,
    ROW_COLUMNS,
    Conn,
    EventAction,
    Outcome,
    OwnershipError,
    RegistryRow,
)

FUNCTION_PREFIX: Final = "vllm_platform_registry_"
# SQLSTATE the functions raise when a row belongs to another stack (OwnershipError).
OWNERSHIP_SQLSTATE: Final = "VPOWN"
_ACTIONS: Final = frozenset(get_args(EventAction))

SELECT_ROW: Final = sql.SQL("SELECT {cols} FROM {table}").format(
    cols=sql.SQL(", ").join(sql.Identifier(n) for n in ROW_COLUMNS),
    table=sql.Identifier(ENTRIES_TABLE),
)


def to_row(data: Mapping[str, Any]) -> RegistryRow:
    return RegistryRow(**{name: data[name] for name in ROW_COLUMNS})


def row_by_key(conn: Conn, environment: str, model_name: str) -> RegistryRow | None:
    """The row of ``(environment, model_name)`` as this session sees it (None: no such row)."""
    query = sql.SQL("{select} WHERE environment = %s AND model_name = %s").format(select=SELECT_ROW)
    with conn.cursor(row_factory=dict_row) as cur:
        found = cur.execute(query, (environment, model_name)).fetchone()
    return to_row(found) if found is not None else None


def call_function(
    conn: Conn, name: str, environment: str, model_name: str, params: Mapping[str, object]
) -> Outcome | None:
    """``vllm_platform_registry_<name>(p_<key> => value, ...)``, then the row it wrote, in one
    transaction; None when there is no row. ``OwnershipError`` when the row is another stack's;
    a caller not allowed to write fails with PostgreSQL's ``InsufficientPrivilege``."""
    call = sql.SQL("SELECT {fn}({args})").format(
        fn=sql.Identifier(FUNCTION_PREFIX + name),
        args=sql.SQL(", ").join(
            sql.SQL("{} => %s").format(sql.Identifier(f"p_{k}")) for k in params
        ),
    )
    try:
        with conn.transaction():
            found = conn.execute(call, list(params.values())).fetchone()
            row = row_by_key(conn, environment, model_name)
    except psycopg.Error as exc:
        if exc.sqlstate == OWNERSHIP_SQLSTATE:
            raise OwnershipError(exc.diag.message_primary or str(exc)) from None
        raise
    action = found[0] if found is not None else None
    if action is not None and action not in _ACTIONS:
        raise RuntimeError(f"{name} returned an unknown action {action!r}")
    return Outcome(row, action) if row is not None else None
