"""Registry ownership enforced by PostgreSQL (migration 0006): another environment's writer role on
the same database tries plain SQL, the registry's functions for rows it does not own, forged
events, SET ROLE and search_path tricks. Each is refused by the server itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import psycopg
import pytest
from psycopg import conninfo, sql

from components.registry import rollouts, store
from components.registry.connection import connect
from components.registry.rows import OwnershipError
from components.registry.writers import bind_writer
from components.resources.registry_roles import WRITER_GRANTS, grant_statements
from tests.integration.conftest import database, roles
from tests.integration.helpers import rows, spec, writer_roles

pytestmark = pytest.mark.integration

PROD_OWNER = "vllm-platform/production"
STAGING_OWNER = "vllm-platform/staging"
MODEL = spec().model_name
PROD = replace(spec(), environment="production", stack="production", namespace="vllm-production")
TARGET = rollouts.RolloutTarget("vllm/vllm-openai:v0.12.0", "f" * 40, "evil-smoke-1", 600)


@dataclass(frozen=True)
class Db:
    owner: str
    staging: str
    """DSN of staging's writer role (bound to staging, vllm-platform/staging)."""
    staging_role: str
    production_role: str
    unbound: str
    """DSN of a role holding the writer grants but no binding."""


@contextmanager
def _registry(pg_server: str, migrated_template: str) -> Iterator[Db]:
    with database(pg_server, migrated_template) as owner, roles(owner) as make:
        made = writer_roles(owner, make, ("staging", "production", "unbound"))
        with psycopg.connect(owner, autocommit=True) as conn:
            bind_writer(conn, made["staging"][0], "staging", STAGING_OWNER)
            bind_writer(conn, made["production"][0], "production", PROD_OWNER)
        with connect(owner, autocommit=True) as conn:
            store.register(conn, PROD, owner=PROD_OWNER, evidence="prod-smoke-1")
            store.register(conn, spec(), owner=STAGING_OWNER, evidence="staging-smoke-1")
        yield Db(
            owner=owner,
            staging=made["staging"][1],
            staging_role=made["staging"][0],
            production_role=made["production"][0],
            unbound=made["unbound"][1],
        )


@pytest.fixture(scope="module")
def shared(pg_server: str, migrated_template: str) -> Iterator[Db]:
    """One registry for the refusals: a refused statement changes nothing (each test checks)."""
    with _registry(pg_server, migrated_template) as db:
        yield db


@pytest.fixture
def reg(pg_server: str, migrated_template: str) -> Iterator[Db]:
    with _registry(pg_server, migrated_template) as db:
        yield db


def _snapshot(dsn: str) -> tuple[list[tuple[Any, ...]], int]:
    return (
        rows(dsn, "SELECT * FROM model_registry_entries ORDER BY id"),
        int(rows(dsn, "SELECT count(*) FROM model_registry_events")[0][0]),
    )


HOSTILE_SQL = [
    "UPDATE model_registry_entries SET endpoint_url = 'http://evil:8000/v1', "
    "health_status = 'healthy', routing_enabled = true WHERE environment = 'production'",
    "UPDATE model_registry_entries SET owner_stack = 'vllm-platform/staging'",
    "INSERT INTO model_registry_entries (model_name, environment, endpoint_url, health_status, "
    "routing_enabled) VALUES ('fake', 'production', 'http://evil:8000/v1', 'healthy', true)",
    "DELETE FROM model_registry_entries WHERE environment = 'production'",
    "TRUNCATE model_registry_entries",
    "INSERT INTO model_registry_events (entry_id, action, note) "
    "SELECT id, 'adopted', 'forged' FROM model_registry_entries",
    "LOCK TABLE model_registry_entries IN ACCESS EXCLUSIVE MODE",
    "LOCK TABLE model_registry_entries IN EXCLUSIVE MODE",
    "LOCK TABLE model_registry_entries IN ROW EXCLUSIVE MODE",
    "LOCK TABLE model_registry_events IN SHARE MODE",
    "SELECT id FROM model_registry_entries WHERE environment = 'production' FOR UPDATE",
    "SELECT nextval('model_registry_events_id_seq')",
    "INSERT INTO vllm_platform_registry_writers (role_name, environment, owner_stack) "
    "VALUES (current_user, 'production', 'vllm-platform/production')",
    "UPDATE vllm_platform_registry_writers SET environment = 'production'",
    "SELECT vllm_platform_registry_bind_writer(current_user, 'production', "
    "'vllm-platform/production')",
    "SELECT vllm_platform_registry_unbind_writer(current_user)",
    # The internal helpers: they would write for anyone; nobody but the owner may call them.
    'SELECT vllm_platform_registry_write(e, \'{"endpoint_url": "http://evil:8000/v1"}\', '
    "'updated', NULL, NULL) FROM model_registry_entries e",
    "SELECT vllm_platform_registry_caller('production', NULL)",
    "SELECT vllm_platform_registry_check_owner(e, NULL, 'x') FROM model_registry_entries e",
    "CREATE OR REPLACE FUNCTION vllm_platform_registry_caller(text, text) RETURNS text "
    "LANGUAGE sql AS $$ SELECT 'vllm-platform/production' $$",
    "ALTER FUNCTION vllm_platform_registry_register SECURITY INVOKER",
    "ALTER TABLE model_registry_entries DISABLE TRIGGER ALL",
    "SET SESSION AUTHORIZATION postgres",
    "CREATE FUNCTION public.lower(text) RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$",
]


@pytest.mark.parametrize("statement", HOSTILE_SQL)
def test_plain_sql_from_another_environments_writer_is_refused(shared: Db, statement: str) -> None:
    reg = shared
    before = _snapshot(reg.owner)
    with psycopg.connect(reg.staging) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement.encode())
    assert _snapshot(reg.owner) == before


def _expire(conn: psycopg.Connection[Any]) -> object:
    return rollouts.expire_rollouts(conn, "production")


def _report(conn: psycopg.Connection[Any]) -> object:
    return conn.execute(
        "SELECT vllm_platform_registry_report_health('production', %s, %s, 'unhealthy', true, 1, "
        "'forged')",
        (PROD_OWNER, MODEL),
    ).fetchone()


HOSTILE_CALLS: dict[str, Callable[[psycopg.Connection[Any]], object]] = {
    "register production": lambda c: store.register(c, PROD, owner=PROD_OWNER),
    "register production, owner implied": lambda c: store.register(c, PROD),
    "register repointed production": lambda c: store.register(
        c, replace(PROD, endpoint_url="http://evil:8000/v1")
    ),
    "register staging as production's stack": lambda c: store.register(c, spec(), owner=PROD_OWNER),
    "retire production": lambda c: store.retire(
        c, "production", MODEL, stack="production", owner=PROD_OWNER
    ),
    "reactivate production": lambda c: store.reactivate(c, "production", MODEL, stack="x"),
    "adopt production": lambda c: store.adopt(
        c, "production", MODEL, owner=STAGING_OWNER, reason="takeover"
    ),
    "adopt even its own environment's row": lambda c: store.adopt(
        c, "staging", MODEL, owner="vllm-platform/other", reason="takeover"
    ),
    "begin a rollout of production": lambda c: rollouts.begin_rollout(
        c, "production", MODEL, TARGET, owner=PROD_OWNER, stack="production"
    ),
    "fail production's rollout": lambda c: rollouts.fail_rollout(
        c, "production", MODEL, owner=PROD_OWNER, stack="production", note="x"
    ),
    "expire production's rollouts": _expire,
    "report production unhealthy": _report,
}


@pytest.mark.parametrize("call", HOSTILE_CALLS.values(), ids=HOSTILE_CALLS.keys())
def test_the_registry_functions_refuse_rows_outside_the_callers_binding(
    shared: Db, call: Callable[[psycopg.Connection[Any]], object]
) -> None:
    reg = shared
    before = _snapshot(reg.owner)
    with (
        connect(reg.staging, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        call(conn)
    assert _snapshot(reg.owner) == before


@pytest.mark.parametrize("call", HOSTILE_CALLS.values(), ids=HOSTILE_CALLS.keys())
def test_a_role_without_a_binding_may_call_nothing(
    shared: Db, call: Callable[[psycopg.Connection[Any]], object]
) -> None:
    reg = shared
    before = _snapshot(reg.owner)
    with (
        connect(reg.unbound, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        call(conn)
    assert _snapshot(reg.owner) == before


def test_set_role_to_productions_writer_does_not_change_who_writes(reg: Db) -> None:
    with psycopg.connect(reg.owner, autocommit=True) as conn:
        conn.execute(
            sql.SQL("GRANT {} TO {}").format(
                sql.Identifier(reg.production_role), sql.Identifier(reg.staging_role)
            )
        )
    before = _snapshot(reg.owner)
    with connect(reg.staging, autocommit=True) as conn:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(reg.production_role)))
        assert conn.execute("SELECT current_user").fetchone() == (reg.production_role,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="writes environment"):
            store.register(conn, PROD, owner=PROD_OWNER)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE model_registry_entries SET routing_enabled = false")
    assert _snapshot(reg.owner) == before


def test_temporary_lookalike_tables_do_not_steer_the_functions(reg: Db) -> None:
    # search_path is pinned with pg_temp last: a writer's temporary tables named like the
    # registry's are never what the functions read or write.
    with connect(reg.staging, autocommit=True) as conn:
        conn.execute(
            "CREATE TEMPORARY TABLE vllm_platform_registry_writers "
            "(role_name name, environment text, owner_stack text)"
        )
        conn.execute(
            "INSERT INTO vllm_platform_registry_writers "
            "VALUES (session_user, 'production', 'vllm-platform/production')"
        )
        conn.execute(
            "CREATE TEMPORARY TABLE model_registry_entries "
            "(LIKE public.model_registry_entries INCLUDING ALL)"
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="writes environment"):
            store.register(conn, PROD, owner=PROD_OWNER)
        # The session's own reads see its temporary table first; the function does not.
        retired = conn.execute(
            "SELECT vllm_platform_registry_retire('staging', %s, 'staging', 'x', %s)",
            (MODEL, STAGING_OWNER),
        ).fetchone()
        temp = conn.execute("SELECT count(*) FROM pg_temp.model_registry_entries").fetchone()
    assert (retired, temp) == (("retired",), (0,))
    assert rows(
        reg.owner,
        "SELECT health_status FROM public.model_registry_entries WHERE environment = 'staging'",
    ) == [("retired",)]


def test_a_canary_in_the_same_environment_gets_the_ownership_error(reg: Db) -> None:
    with (
        psycopg.connect(reg.owner, autocommit=True) as conn,
        roles(reg.owner) as make,
    ):
        canary, dsn = make("canary")
        dbname = str(conninfo.conninfo_to_dict(reg.owner)["dbname"])
        for g in WRITER_GRANTS:
            for statement in grant_statements(g, canary, dbname):
                conn.execute(statement)
        bind_writer(conn, canary, "staging", "vllm-platform/staging-canary")
        with connect(dsn, autocommit=True) as writer, pytest.raises(OwnershipError):
            store.register(writer, spec(replicas=9))


def test_the_bound_writer_still_runs_its_own_rows_through_every_state(reg: Db) -> None:
    target = rollouts.RolloutTarget(spec().image, "e" * 40, "staging-smoke-2", 600)
    with connect(reg.staging, autocommit=True) as conn:
        started = rollouts.begin_rollout(
            conn, "staging", MODEL, target, owner=STAGING_OWNER, stack="staging"
        )
        settled = store.register(
            conn,
            spec(model_revision="e" * 40),
            health_status="healthy",
            owner=STAGING_OWNER,
            evidence="staging-smoke-2",
        )
        retired = store.retire(conn, "staging", MODEL, stack="staging", owner=STAGING_OWNER)
        events = store.list_events(conn, settled.entry.id)
    assert started is not None and started.action == "rollout_started"
    assert (settled.action, settled.entry.health_status) == ("updated", "healthy")
    assert retired is not None and retired.action == "retired"
    assert [e.action for e in events] == ["registered", "rollout_started", "updated", "retired"]
