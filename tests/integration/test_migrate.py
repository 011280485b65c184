"""Migrations against a real PostgreSQL: fresh, legacy, edited, concurrent; constraints hold."""

from __future__ import annotations

import multiprocessing
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from components.registry import migrate as m
from tests.integration.conftest import database
from tests.integration.helpers import rows
from tests.integration.workers import migrate_at

pytestmark = pytest.mark.integration

ALL_VERSIONS = [mig.version for mig in m.load_migrations()]
ENTRY_COLUMNS = {
    "id",
    "model_name",
    "environment",
    "endpoint_url",
    "health_status",
    "routing_enabled",
    "namespace",
    "deployment_name",
    "image",
    "hf_model_id",
    "model_revision",
    "max_model_len",
    "gpu_type",
    "gpus_per_replica",
    "replicas",
    "stack",
    "created_at",
    "updated_at",
    "retired_at",
    "last_health_check_at",
}


def _columns(dsn: str, table: str) -> set[str]:
    found = rows(
        dsn, "SELECT column_name FROM information_schema.columns WHERE table_name = %s", table
    )
    return {str(r[0]) for r in found}


def test_migrations_apply_on_an_empty_database_then_a_second_run_changes_nothing(db: str) -> None:
    assert m.migrate(db) == ALL_VERSIONS
    assert _columns(db, "model_registry_entries") >= ENTRY_COLUMNS
    recorded = rows(db, f"SELECT version, name, checksum FROM {m.MIGRATIONS_TABLE} ORDER BY 1")
    assert [(v, n, c) for v, n, c in recorded] == [
        (mig.version, mig.name, mig.checksum) for mig in m.load_migrations()
    ]
    schema_before = rows(
        db,
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY 1, 2",
    )

    assert m.migrate(db) == []

    assert len(rows(db, f"SELECT 1 FROM {m.MIGRATIONS_TABLE}")) == len(ALL_VERSIONS)
    assert (
        rows(
            db,
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY 1, 2",
        )
        == schema_before
    )


def test_migrations_keep_a_legacy_table_and_its_rows_and_add_the_missing_columns(db: str) -> None:
    with psycopg.connect(db) as conn:
        conn.execute(
            """CREATE TABLE model_registry_entries (
                   id serial PRIMARY KEY,
                   model_name text NOT NULL,
                   endpoint_url text NOT NULL,
                   owner_team text,
                   status text DEFAULT 'active'
               )"""
        )
        conn.execute(
            "INSERT INTO model_registry_entries (model_name, endpoint_url, owner_team) VALUES "
            "('legacy-gpt', 'http://legacy-gpt.internal:8000/v1', 'search'), "
            "('legacy-bert', 'not a url at all', NULL)"
        )

    assert m.migrate(db) == ALL_VERSIONS

    assert _columns(db, "model_registry_entries") >= ENTRY_COLUMNS | {"owner_team", "status"}
    legacy = rows(
        db,
        "SELECT id, model_name, endpoint_url, owner_team, status, environment, health_status, "
        "routing_enabled, created_at FROM model_registry_entries ORDER BY id",
    )
    assert legacy == [
        (
            1,
            "legacy-gpt",
            "http://legacy-gpt.internal:8000/v1",
            "search",
            "active",
            None,
            "unknown",
            True,
            None,
        ),
        (2, "legacy-bert", "not a url at all", None, "active", None, "unknown", True, None),
    ]
    # Legacy rows are flagged and exempt from the value checks, so their other writers (and
    # the health reporter) can still update them; every row written from now on is checked.
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("UPDATE model_registry_entries SET last_health_check_at = now()")
        conn.execute(
            "INSERT INTO model_registry_entries (model_name, endpoint_url) VALUES ('n', 'http://n/v1')"
        )
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "INSERT INTO model_registry_entries (model_name, endpoint_url) "
                "VALUES ('x', 'not a url')"
            )
    assert rows(
        db, "SELECT model_name, legacy_row, routing_enabled FROM model_registry_entries ORDER BY id"
    ) == [
        ("legacy-gpt", True, True),
        ("legacy-bert", True, True),
        ("n", False, False),
    ]
    unvalidated = rows(
        db,
        "SELECT conname FROM pg_constraint WHERE conrelid = 'model_registry_entries'::regclass "
        "AND NOT convalidated",
    )
    assert unvalidated == []
    assert m.migrate(db) == []


def test_duplicate_legacy_rows_are_reported_by_name_and_nothing_is_applied(db: str) -> None:
    with psycopg.connect(db) as conn:
        conn.execute(
            "CREATE TABLE model_registry_entries "
            "(id serial PRIMARY KEY, model_name text, environment text)"
        )
        conn.execute(
            "INSERT INTO model_registry_entries (model_name, environment) "
            "VALUES ('a', 'staging'), ('a', 'staging')"
        )

    with pytest.raises(m.MigrationError, match=r"0001_model_registry\.sql.*staging/a \(2 rows\)"):
        m.migrate(db)

    assert rows(db, f"SELECT count(*) FROM {m.MIGRATIONS_TABLE}") == [(0,)]
    assert "health_status" not in _columns(db, "model_registry_entries")


def test_a_changed_applied_migration_is_refused_naming_the_file(db: str, tmp_path: Path) -> None:
    for mig in m.load_migrations():
        shutil.copy(m.MIGRATIONS_DIR / mig.filename, tmp_path / mig.filename)
    m.migrate(db, m.load_migrations(tmp_path))
    edited = tmp_path / "0002_health_check.sql"
    edited.write_text(edited.read_text() + "\n-- an innocent-looking edit\n")

    with pytest.raises(m.MigrationChecksumError, match=r"0002_health_check\.sql was changed"):
        m.migrate(db, m.load_migrations(tmp_path))


def test_a_new_migration_file_is_applied_by_the_next_run(db: str, tmp_path: Path) -> None:
    for mig in m.load_migrations():
        shutil.copy(m.MIGRATIONS_DIR / mig.filename, tmp_path / mig.filename)
    m.migrate(db, m.load_migrations(tmp_path))
    (tmp_path / "0099_extra.sql").write_text(
        "ALTER TABLE model_registry_entries ADD COLUMN IF NOT EXISTS extra text;"
    )

    assert m.migrate(db, m.load_migrations(tmp_path)) == [99]
    assert "extra" in _columns(db, "model_registry_entries")


def test_a_failing_migration_is_rolled_back_and_not_recorded(db: str, tmp_path: Path) -> None:
    shipped = m.load_migrations()
    for mig in shipped:
        shutil.copy(m.MIGRATIONS_DIR / mig.filename, tmp_path / mig.filename)
    broken = f"{len(shipped) + 1:04d}_broken.sql"
    (tmp_path / broken).write_text("CREATE TABLE half_done (id int);\nSELECT no_such_function();")

    with pytest.raises(m.MigrationError, match=rf"{broken[:-4]}\.sql failed and was rolled back"):
        m.migrate(db, m.load_migrations(tmp_path))

    applied = rows(db, f"SELECT version FROM {m.MIGRATIONS_TABLE} ORDER BY 1")
    assert applied == [(mig.version,) for mig in shipped]
    assert rows(db, "SELECT to_regclass('half_done')") == [(None,)]


def test_eight_processes_migrating_at_once_apply_each_migration_exactly_once(db: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    start_at = time.time() + 1.0
    with ctx.Pool(8) as pool:
        results = pool.starmap(migrate_at, [(db, start_at)] * 8)

    applied = sorted(v for r in results for v in r)
    assert applied == ALL_VERSIONS  # each version applied by exactly one process
    assert sum(1 for r in results if r) == 1  # the first one through the lock applies them all
    assert rows(db, f"SELECT version FROM {m.MIGRATIONS_TABLE} ORDER BY 1") == [
        (v,) for v in ALL_VERSIONS
    ]


@pytest.fixture(scope="module")
def registry_db(pg_server: str, migrated_template: str) -> Iterator[str]:
    """One migrated database for the read-only checks of this module (each rolls back)."""
    with database(pg_server, migrated_template) as dsn:
        yield dsn


VALID_ROW: dict[str, Any] = {
    "model_name": "m",
    "environment": "staging",
    "endpoint_url": "http://m.vllm-staging.svc.cluster.local:8000/v1",
    "health_status": "healthy",
    "routing_enabled": True,
    "namespace": "vllm-staging",
    "deployment_name": "m",
    "image": "vllm/vllm-openai:v0.11.0",
    "hf_model_id": "a/b",
    "model_revision": "main",
    "max_model_len": 4096,
    "gpu_type": "NVIDIA RTX 4000 Ada",
    "gpus_per_replica": 1,
    "replicas": 1,
    "stack": "staging",
}


def _insert_entry(conn: psycopg.Connection[Any], values: dict[str, Any]) -> None:
    cols = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    conn.execute(
        f"INSERT INTO model_registry_entries ({cols}) VALUES ({marks})".encode(),
        list(values.values()),
    )


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        ({"replicas": -1}, "replicas_check"),
        ({"gpus_per_replica": -1}, "gpus_per_replica_check"),
        ({"max_model_len": 0}, "max_model_len_check"),
        ({"environment": "prod"}, "environment_check"),
        ({"endpoint_url": "ftp://m/v1"}, "endpoint_url_check"),
        ({"endpoint_url": "http:// m"}, "endpoint_url_check"),
        ({"health_status": "fine"}, "health_status_check"),
        ({"health_status": "retired", "routing_enabled": False}, "retired_at_check"),
        ({"retired_at": "2025-01-01T00:00:00Z"}, "retired_at_check"),
        (
            {"health_status": "retired", "retired_at": "2025-01-01T00:00:00Z"},
            "retired_routing_check",
        ),
        ({"model_name": ""}, "model_name_check"),
        ({"image": None}, "platform_row_check"),
    ],
)
def test_constraints_reject_impossible_values(
    registry_db: str, overrides: dict[str, Any], constraint: str
) -> None:
    with psycopg.connect(registry_db) as conn:
        _insert_entry(conn, VALID_ROW)  # the baseline row is accepted
        with pytest.raises(psycopg.errors.CheckViolation) as info:
            _insert_entry(conn, {**VALID_ROW, "model_name": "other", **overrides})
        conn.rollback()  # leave the shared database as it was
    assert info.value.diag.constraint_name == f"model_registry_entries_{constraint}"


def test_the_environment_and_model_name_pair_is_unique(migrated_db: str) -> None:
    db = migrated_db
    with psycopg.connect(db) as conn:
        _insert_entry(conn, VALID_ROW)
        with pytest.raises(psycopg.errors.UniqueViolation):
            _insert_entry(conn, VALID_ROW)


def test_the_events_table_rejects_update_delete_and_truncate(migrated_db: str) -> None:
    db = migrated_db
    with psycopg.connect(db) as conn:
        _insert_entry(conn, VALID_ROW)
        conn.execute(
            "INSERT INTO model_registry_events (entry_id, action) "
            "SELECT id, 'registered' FROM model_registry_entries"
        )
    for statement in (
        "UPDATE model_registry_events SET note = 'rewritten'",
        "DELETE FROM model_registry_events",
        "TRUNCATE model_registry_events",
    ):
        with (
            psycopg.connect(db) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"),
        ):
            conn.execute(statement.encode())
    assert rows(db, "SELECT action, note FROM model_registry_events") == [("registered", None)]
