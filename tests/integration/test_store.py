"""The store against a real PostgreSQL: events with every write, concurrency, hostile input."""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import replace

import psycopg
import pytest

from components.registry import store
from components.registry.connection import connect
from components.registry.migrate import migrate
from components.registry.rows import Outcome
from tests.integration.helpers import rows, spec
from tests.integration.workers import register_at

pytestmark = pytest.mark.integration

HOSTILE = "x'); DROP TABLE model_registry_entries;--"


@pytest.mark.parametrize("how", ["register", "reactivate"])
def test_a_reactivated_row_keeps_no_smoke_evidence(migrated_db: str, how: str) -> None:
    # report.sql recovers an unhealthy row to healthy only with smoke_job set: the evidence of
    # pods retired since must not count for a row re-activated without a new smoke test.
    name = spec().model_name
    with connect(migrated_db, autocommit=True) as conn:
        store.register(conn, spec(), evidence=f"{name}-smoke-0a1b2c3d")
        store.retire(conn, "staging", name, stack="staging")
        back: Outcome | None
        if how == "register":
            back = store.register(conn, spec(), health_status=None)
        else:
            back = store.reactivate(conn, "staging", name, stack="staging")
    assert back is not None
    assert (back.entry.health_status, back.entry.smoke_job) == ("unknown", None)


def test_each_write_records_its_event_in_the_same_transaction(migrated_db: str) -> None:
    db = migrated_db
    with connect(db, autocommit=True) as conn:
        first = store.register(conn, spec())
        same = store.register(conn, spec())
        moved = store.register(conn, spec(image="vllm/vllm-openai:v0.12.0"), note="release 42")
        retired = store.retire(conn, "staging", spec().model_name, stack="staging", note="gone")
        again = store.retire(conn, "staging", spec().model_name, stack="staging")
        back = store.reactivate(conn, "staging", spec().model_name, stack="staging")
        events = store.list_events(conn, first.entry.id)

    assert [first.action, same.action, moved.action] == ["registered", None, "updated"]
    assert retired is not None and retired.action == "retired"
    assert retired.entry.retired_at is not None and not retired.entry.routing_enabled
    assert again is not None and again.action is None
    assert back is not None and back.action == "reactivated"
    assert (back.entry.health_status, back.entry.routing_enabled) == ("unknown", False)
    assert [e.action for e in events] == ["registered", "updated", "retired", "reactivated"]
    assert events[1].old_values == {"image": "vllm/vllm-openai:v0.11.0"}
    assert events[1].new_values == {"image": "vllm/vllm-openai:v0.12.0"}
    assert events[1].note == "release 42"


def test_a_failed_write_leaves_neither_row_change_nor_event(migrated_db: str) -> None:
    db = migrated_db
    with connect(db, autocommit=True) as conn:
        entry = store.register(conn, spec()).entry
        with pytest.raises(psycopg.errors.CheckViolation):
            store.register(conn, spec(replicas=-1))
        assert store.get_entry(conn, "staging", spec().model_name) == entry
        assert [e.action for e in store.list_events(conn, entry.id)] == ["registered"]


def test_sql_metacharacters_in_names_and_fields_are_stored_verbatim(migrated_db: str) -> None:
    db = migrated_db
    hostile = spec(
        model_name=HOSTILE,
        image="vllm/vllm-openai:v0.11.0'; DELETE FROM model_registry_events;--",
        endpoint_url="http://x/v1?q=');DROP/**/TABLE/**/model_registry_events;--",
        stack="staging$$; DROP TABLE x; $$",
    )
    with connect(db, autocommit=True) as conn:
        outcome = store.register(conn, hostile, note="'); TRUNCATE model_registry_events;--")
        store.register(conn, replace(hostile, replicas=5))
        found = store.get_entry(conn, "staging", HOSTILE)
        events = store.list_events(conn, outcome.entry.id)

    assert found is not None
    assert (found.model_name, found.image, found.endpoint_url, found.stack) == (
        hostile.model_name,
        hostile.image,
        hostile.endpoint_url,
        hostile.stack,
    )
    assert [e.action for e in events] == ["registered", "updated"]
    assert events[0].note == "'); TRUNCATE model_registry_events;--"
    assert rows(db, "SELECT count(*) FROM model_registry_entries") == [(1,)]


def test_concurrent_registrations_from_several_processes_lose_nothing(migrated_db: str) -> None:
    db = migrated_db
    workers, per_worker = 4, 6
    ctx = multiprocessing.get_context("spawn")
    start_at = time.time() + 1.0
    with ctx.Pool(workers) as pool:
        results = pool.starmap(register_at, [(db, start_at, w, per_worker) for w in range(workers)])

    expected = {key for r in results for key in r}
    assert len(expected) == workers * per_worker
    with connect(db, autocommit=True) as conn:
        entries = store.list_entries(conn)
        by_key = {f"{e.environment}/{e.model_name}": e for e in entries}
        assert set(by_key) == expected | {"staging/shared-model"}
        assert {e.environment for e in entries} == {"development", "staging", "production"}
        assert all(by_key[k].replicas == 3 for k in expected)  # every update landed
        for key in expected:
            assert [e.action for e in store.list_events(conn, by_key[key].id)] == [
                "registered",
                "updated",
            ]
        shared = store.list_events(conn, by_key["staging/shared-model"].id)
    # Every worker's registration of the same model is there: one insert, then updates.
    assert [e.action for e in shared] == ["registered"] + ["updated"] * (workers - 1)


def test_list_entries_filters_by_environment_and_includes_legacy_rows(db: str) -> None:
    with psycopg.connect(db) as conn:
        conn.execute("CREATE TABLE model_registry_entries (id serial PRIMARY KEY, model_name text)")
        conn.execute("INSERT INTO model_registry_entries (model_name) VALUES ('legacy')")
    migrate(db)
    with connect(db, autocommit=True) as conn:
        store.register(conn, spec(environment="production", stack="production"))
        store.register(conn, spec(environment="staging"))
        everything = store.list_entries(conn)
        production = store.list_entries(conn, "production")

    assert [(e.environment, e.model_name, e.legacy_row) for e in everything] == [
        ("production", spec().model_name, False),
        ("staging", spec().model_name, False),
        (None, "legacy", True),
    ]
    assert [e.environment for e in production] == ["production"]
