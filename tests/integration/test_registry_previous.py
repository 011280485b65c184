"""The rollback target (migration 0007, #27 keepPrevious) on a real PostgreSQL: kept after a
tested rollout, switched back to in one statement inside its window, refused after it, cleared by
the window rule; and another environment's writer (or an unbound role) can do none of it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from components.registry import store
from components.registry.connection import connect
from components.registry.previous import (
    PreviousRevision,
    drop_previous,
    expire_previous,
    keep_previous,
    previous_until,
    switch_to_previous,
)
from components.registry.providers.previous import RegistryPreviousProvider, window_minutes
from components.registry.writers import bind_writer
from ops.rollback_switch import Switch, switch_registry
from tests.integration.conftest import database, roles
from tests.integration.helpers import register_with_an_older_schema, rows, spec, writer_roles

pytestmark = pytest.mark.integration

OWNER = "vllm-platform/production"
STAGING_OWNER = "vllm-platform/staging"
OLD = replace(spec(), environment="production", stack="production", namespace="vllm-production")
NEW = replace(OLD, image="vllm/vllm-openai:v0.11.2", model_revision="a" * 40)
PREVIOUS = PreviousRevision(OLD.image, OLD.model_revision, "smoke-old", "llama-previous")
MODEL = OLD.model_name


@dataclass(frozen=True)
class Db:
    owner: str
    production: str  # the production writer's DSN (bound to production)
    staging: str  # another environment's writer
    unbound: str  # the writer grants, no binding


@pytest.fixture
def reg(pg_server: str, migrated_template: str) -> Iterator[Db]:
    with database(pg_server, migrated_template) as owner, roles(owner) as make:
        made = writer_roles(owner, make, ("production", "staging", "unbound"))
        with psycopg.connect(owner, autocommit=True) as conn:
            bind_writer(conn, made["production"][0], "production", OWNER)
            bind_writer(conn, made["staging"][0], "staging", STAGING_OWNER)
        with connect(made["production"][1], autocommit=True) as conn:
            store.register(conn, OLD, evidence="smoke-old")
            store.register(conn, NEW, evidence="smoke-new")  # the rollout passed its smoke test
        yield Db(owner, made["production"][1], made["staging"][1], made["unbound"][1])


def _row(dsn: str) -> dict[str, Any]:
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        found = cur.execute(
            "SELECT * FROM model_registry_entries WHERE model_name = %s", (MODEL,)
        ).fetchone()
    assert found is not None
    return found


def test_a_kept_previous_revision_is_switched_back_to_in_one_statement(reg: Db) -> None:
    with connect(reg.production, autocommit=True) as conn:
        kept = keep_previous(conn, "production", MODEL, PREVIOUS, 30, owner=OWNER, stack="p")
        assert kept is not None and kept.action == "previous_kept"
        assert previous_until(conn, "production", MODEL) is not None
        row = _row(reg.owner)
        assert (row["image"], row["previous_image"]) == (NEW.image, OLD.image)
        switched = switch_to_previous(conn, "production", MODEL, owner=OWNER, stack="p")
    assert switched is not None and switched.action == "rolled_back"
    row = _row(reg.owner)
    # What the router reads: the same endpoint, routed, healthy; now the previous revision.
    assert (row["endpoint_url"], row["routing_enabled"], row["health_status"]) == (
        OLD.endpoint_url,
        True,
        "healthy",
    )
    assert (row["image"], row["model_revision"], row["smoke_job"]) == (
        OLD.image,
        OLD.model_revision,
        "smoke-old",
    )
    assert row["deployment_name"] == "llama-previous"
    assert row["previous_until"] is None and row["previous_image"] is None
    events = rows(reg.owner, "SELECT action FROM model_registry_events ORDER BY id")
    assert [e[0] for e in events][-2:] == ["previous_kept", "rolled_back"]
    # A second switch has no target: the retired revision is nobody's rollback target.
    with connect(reg.production, autocommit=True) as conn:
        again = switch_to_previous(conn, "production", MODEL, owner=OWNER, stack="p")
    assert again is not None and again.action is None


def test_after_the_window_there_is_nothing_to_switch_to_and_the_rule_clears_it(reg: Db) -> None:
    with connect(reg.production, autocommit=True) as conn:
        keep_previous(conn, "production", MODEL, PREVIOUS, 5, owner=OWNER, stack="p")
    with psycopg.connect(reg.owner, autocommit=True) as conn:  # the window ends
        conn.execute("UPDATE model_registry_entries SET previous_until = now() - interval '1 s'")
    with connect(reg.production, autocommit=True) as conn:
        late = switch_to_previous(conn, "production", MODEL, owner=OWNER, stack="p")
        assert late is not None and late.action is None
        assert _row(reg.owner)["image"] == NEW.image
        assert expire_previous(conn) == 1  # its own environment
        assert expire_previous(conn) == 0
    assert _row(reg.owner)["previous_image"] is None


def test_only_a_healthy_row_keeps_a_target_and_never_the_revision_it_serves(reg: Db) -> None:
    with connect(reg.production, autocommit=True) as conn:
        same = PreviousRevision(NEW.image, NEW.model_revision, "smoke-new", "x")
        assert keep_previous(conn, "production", MODEL, same, 30, owner=OWNER, stack="p") == (
            store.register(conn, NEW, evidence="smoke-new")  # nothing written either way
        )
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            keep_previous(conn, "production", MODEL, PREVIOUS, 0, owner=OWNER, stack="p")
        dropped = drop_previous(conn, "production", MODEL, owner=OWNER, stack="p")
        assert dropped is not None and dropped.action is None
    # All of a target or none of it.
    with psycopg.connect(reg.owner) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("UPDATE model_registry_entries SET previous_image = 'x'")


def _snapshot(dsn: str) -> tuple[list[tuple[Any, ...]], int]:
    return (
        rows(dsn, "SELECT * FROM model_registry_entries ORDER BY id"),
        int(rows(dsn, "SELECT count(*) FROM model_registry_events")[0][0]),
    )


HOSTILE: dict[str, Callable[[psycopg.Connection[Any]], object]] = {
    "keep a target for production": lambda c: keep_previous(
        c, "production", MODEL, PREVIOUS, 30, owner=OWNER, stack="production"
    ),
    "switch production back": lambda c: switch_to_previous(
        c, "production", MODEL, owner=OWNER, stack="production"
    ),
    "drop production's target": lambda c: drop_previous(
        c, "production", MODEL, owner=OWNER, stack="production"
    ),
    "expire production's targets": lambda c: expire_previous(c, "production"),
    "write previous_* directly": lambda c: c.execute(
        "UPDATE model_registry_entries SET previous_image = 'evil', previous_revision = 'x', "
        "previous_smoke_job = 'x', previous_deployment_name = 'evil', "
        "previous_until = now() + interval '1 day'"
    ),
    "call the cleared-columns helper": lambda c: c.execute(
        "SELECT vllm_platform_registry_previous_cleared()"
    ),
}


@pytest.mark.parametrize("call", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("who", ["staging", "unbound"])
def test_another_environments_writer_can_neither_keep_nor_switch(
    reg: Db, who: str, call: Callable[[psycopg.Connection[Any]], object]
) -> None:
    with connect(reg.production, autocommit=True) as conn:
        keep_previous(conn, "production", MODEL, PREVIOUS, 30, owner=OWNER, stack="p")
    before = _snapshot(reg.owner)
    with (
        connect(getattr(reg, who), autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        call(conn)
    assert _snapshot(reg.owner) == before


def test_0007_keeps_every_row_of_a_registry_migrated_to_0006(db: str) -> None:
    from components.registry import migrate as m

    m.migrate(db, [x for x in m.load_migrations() if x.version <= 6])
    register_with_an_older_schema(db, OLD, owner=OWNER, evidence="smoke-old")
    register_with_an_older_schema(db, spec(), owner=STAGING_OWNER)
    columns = "id, model_name, environment, image, model_revision, health_status, smoke_job"
    before = rows(db, f"SELECT {columns} FROM model_registry_entries ORDER BY id")
    assert m.migrate(db, [x for x in m.load_migrations() if x.version <= 7]) == [7]
    assert rows(db, f"SELECT {columns} FROM model_registry_entries ORDER BY id") == before
    assert rows(db, "SELECT count(*) FROM model_registry_entries WHERE previous_until IS NULL") == [
        (2,)
    ]


def test_the_health_reporter_applies_the_window_rule_every_run(
    db: str, make_role: Any, tmp_path: Any
) -> None:
    from tests.integration.reporter_harness import FIRST, HEALTHY, SICK, make_harness

    h = make_harness(db, make_role, tmp_path)
    windows = ((HEALTHY, "now() - interval '1 minute'"), (SICK, "now() + interval '1 hour'"))
    with psycopg.connect(db) as conn:
        for name, until in windows:
            conn.execute(
                "UPDATE model_registry_entries SET previous_image = 'vllm/vllm-openai:v0.10.0', "
                "previous_revision = 'main', previous_smoke_job = 'old-smoke', "
                f"previous_deployment_name = 'old', previous_until = {until} "
                "WHERE environment = 'staging' AND model_name = %s",
                (name,),
            )

    result = h.run({**FIRST, SICK: "ok"})

    assert result.returncode == 0, result.stdout + result.stderr
    query = (
        "SELECT previous_until FROM model_registry_entries "
        "WHERE environment = 'staging' AND model_name = %s"
    )
    assert h.rows(query, HEALTHY) == [(None,)]  # its window ended: the target is gone
    assert h.rows(query, SICK)[0][0] is not None  # still inside its window
    assert "previous_dropped" in [e[0] for e in h.events(HEALTHY)]


# ------------------------------------------------- RegistryPrevious's provider (the program's)


def _provider_props(dsn: str, until: str) -> dict[str, Any]:
    return {
        "connection": dsn,
        "environment": "production",
        "model_name": MODEL,
        "owner_stack": OWNER,
        "stack": "production",
        "image": PREVIOUS.image,
        "revision": PREVIOUS.revision,
        "smoke_job": PREVIOUS.smoke_job,
        "deployment_name": PREVIOUS.deployment_name,
        "until": until,
    }


def _in(minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def test_the_provider_keeps_the_target_for_the_rest_of_its_window_and_drops_it(reg: Db) -> None:
    provider = RegistryPreviousProvider()
    created = provider.create(_provider_props(reg.production, _in(30)))
    assert created.outs is not None
    assert created.id == f"production/{MODEL}"
    assert created.outs["registry_action"] == "previous_kept"
    row = _row(reg.owner)
    assert (row["previous_image"], row["previous_deployment_name"]) == (
        PREVIOUS.image,
        PREVIOUS.deployment_name,
    )
    left = row["previous_until"] - datetime.now(UTC)
    assert timedelta(minutes=29) < left <= timedelta(minutes=30)
    # Unchanged inputs are no change (a second `pulumi up` writes nothing).
    props = _provider_props(reg.production, str(created.outs["until"]))
    assert not provider.diff(created.id, dict(created.outs), props).changes
    provider.delete(created.id, dict(created.outs))
    assert _row(reg.owner)["previous_until"] is None
    events = rows(reg.owner, "SELECT action FROM model_registry_events ORDER BY id")
    assert [e[0] for e in events][-2:] == ["previous_kept", "previous_dropped"]


def test_the_provider_names_nothing_once_the_window_ended(reg: Db) -> None:
    created = RegistryPreviousProvider().create(_provider_props(reg.production, _in(-1)))
    assert created.outs is not None and created.outs["registry_action"] is None
    assert _row(reg.owner)["previous_until"] is None


def test_the_window_is_counted_in_whole_minutes_within_a_day() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert window_minutes("2026-12-06T12:00:01Z", now) == 1
    assert window_minutes("2026-12-06T11:59:00+00:00", now) == 0
    assert window_minutes("2026-12-09T12:00:00Z", now) == 24 * 60


def test_ops_rollback_switches_the_registry_back_in_well_under_a_second(reg: Db) -> None:
    with connect(reg.production, autocommit=True) as conn:
        keep_previous(conn, "production", MODEL, PREVIOUS, 30, owner=OWNER, stack="p")
    switch = Switch(MODEL, PREVIOUS.image, PREVIOUS.revision, _in(30))
    started = time.perf_counter()
    lines = switch_registry(reg.production, "production", [switch], owner=OWNER, stack="p")
    took = time.perf_counter() - started
    assert lines == [f"{MODEL}: registry switched back to {OLD.image} at {OLD.model_revision}"]
    row = _row(reg.owner)
    assert (row["image"], row["model_revision"], row["health_status"]) == (
        OLD.image,
        OLD.model_revision,
        "healthy",
    )
    assert took < 1.0  # connect + one statement (docs/benchmarks.md "Rollback switch")
    again = switch_registry(reg.production, "production", [switch], owner=OWNER, stack="p")
    assert "names no rollback target" in again[0]
