"""Migrations never stall the router's reads, and legacy tables are adapted or refused up front.

Against the real PostgreSQL: a long-running reader holds the table while a migration needs an
ACCESS EXCLUSIVE lock, and the router's SELECTs are timed meanwhile; legacy tables with other
column types, defaults and constraints are migrated (or refused), then written through the
provider pickled and run in a fresh process like the engine's provider process does.
"""

from __future__ import annotations

import base64
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from components.registry import migrate as m
from components.registry.providers import RegistryEntryProvider
from tests.integration.helpers import engine, entry_props, rows

pytestmark = pytest.mark.integration

SHIPPED = m.load_migrations()
ROUTER_QUERY = (
    "SELECT endpoint_url FROM model_registry_entries "
    "WHERE environment = 'staging' AND routing_enabled AND health_status = 'healthy'"
)


def _with_extra_migration(tmp_path: Path) -> list[m.Migration]:
    for mig in SHIPPED:
        shutil.copy(m.MIGRATIONS_DIR / mig.filename, tmp_path / mig.filename)
    (tmp_path / "0099_extra.sql").write_text(
        "ALTER TABLE model_registry_entries ADD COLUMN IF NOT EXISTS extra text;"
    )
    return m.load_migrations(tmp_path)


class Router(threading.Thread):
    """Runs the router's lookup back to back and records how long each one took."""

    def __init__(self, dsn: str) -> None:
        super().__init__(daemon=True)
        self.dsn = dsn
        self.latencies: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.stop.is_set():
                started = time.monotonic()
                conn.execute(ROUTER_QUERY).fetchall()
                self.latencies.append(time.monotonic() - started)
                time.sleep(0.02)


def test_a_migration_queued_behind_a_long_reader_never_blocks_the_router_longer_than_one_wait(
    migrated_db: str, tmp_path: Path
) -> None:
    files = _with_extra_migration(tmp_path)
    lock_wait = 0.3
    reader = psycopg.connect(migrated_db)  # a transaction stays open: ACCESS SHARE is held
    reader.execute("SELECT count(*) FROM model_registry_entries").fetchall()
    router = Router(migrated_db)
    router.start()
    outcome: dict[str, Any] = {}

    def run_migration() -> None:
        outcome["applied"] = m.migrate(
            migrated_db,
            files,
            lock_timeout_ms=int(lock_wait * 1000),
            attempts=30,
            backoff_seconds=0.05,
        )

    migration = threading.Thread(target=run_migration, daemon=True)
    migration.start()
    time.sleep(1.5)  # the reader's long transaction
    reader.rollback()
    reader.close()
    migration.join(timeout=30)
    time.sleep(0.1)
    router.stop.set()
    router.join(timeout=10)

    assert outcome.get("applied") == [99]
    assert "extra" in {
        r[0]
        for r in rows(
            migrated_db,
            "SELECT attname FROM pg_attribute WHERE attrelid = 'model_registry_entries'::regclass",
        )
    }
    assert len(router.latencies) > 10
    # Without the short lock waits the router's SELECT queued behind the migration for the
    # reader's whole 1.5 s.
    assert max(router.latencies) < lock_wait + 0.35, max(router.latencies)


def test_a_lock_never_granted_fails_with_a_clear_error_after_the_retries(
    migrated_db: str, tmp_path: Path
) -> None:
    files = _with_extra_migration(tmp_path)
    with psycopg.connect(migrated_db) as reader:
        reader.execute("SELECT count(*) FROM model_registry_entries").fetchall()
        started = time.monotonic()
        with pytest.raises(m.MigrationLockError, match=r"0099_extra\.sql could not lock") as info:
            m.migrate(migrated_db, files, lock_timeout_ms=100, attempts=3, backoff_seconds=0.05)
        elapsed = time.monotonic() - started
    assert "in 3 attempts" in str(info.value) and "pg_stat_activity" in str(info.value)
    assert elapsed < 2.0
    assert rows(migrated_db, f"SELECT max(version) FROM {m.MIGRATIONS_TABLE}") == [
        (SHIPPED[-1].version,)
    ]


def test_the_default_lock_wait_is_at_most_two_seconds() -> None:
    assert m.LOCK_TIMEOUT_MS <= 2000
    assert m.LOCK_ATTEMPTS >= 3


# ------------------------------------------------------------------------------ legacy tables


def _legacy(db: str, ddl: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(ddl.encode())


def _nothing_applied(db: str) -> bool:
    return rows(db, f"SELECT count(*) FROM {m.MIGRATIONS_TABLE}") == [(0,)]


def test_an_integer_endpoint_url_is_refused_up_front_naming_the_column(db: str) -> None:
    _legacy(db, "CREATE TABLE model_registry_entries (id serial PRIMARY KEY, endpoint_url int)")
    with pytest.raises(m.LegacyTableError) as info:
        m.migrate(db)
    message = str(info.value)
    assert "model_registry_entries.endpoint_url is integer, the registry needs text" in message
    assert "ALTER COLUMN endpoint_url TYPE text" in message
    assert _nothing_applied(db)


def test_a_not_null_column_the_inserts_do_not_fill_is_refused_naming_it(db: str) -> None:
    _legacy(
        db,
        "CREATE TABLE model_registry_entries (id integer PRIMARY KEY, model_name text, "
        "team text NOT NULL, tier text NOT NULL DEFAULT 'gold')",
    )
    with pytest.raises(m.LegacyTableError) as info:
        m.migrate(db)
    message = str(info.value)
    # id has no default either: the registry's inserts would fail on it too.
    assert "model_registry_entries.team is NOT NULL without a default" in message
    assert "model_registry_entries.id is NOT NULL without a default" in message
    assert "tier" not in message and "model_name" not in message
    assert "SET DEFAULT" in message and "DROP NOT NULL" in message
    assert _nothing_applied(db)


def test_a_legacy_routing_default_and_timestamps_keep_their_defaults(db: str) -> None:
    _legacy(
        db,
        "CREATE TABLE model_registry_entries (id bigserial PRIMARY KEY, model_name text, "
        "endpoint_url text, routing_enabled boolean NOT NULL DEFAULT true, created_at timestamptz)",
    )
    m.migrate(db)

    defaults = dict(
        rows(
            db,
            "SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
            "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attrelid = 'model_registry_entries'::regclass AND a.attname IN "
            "('routing_enabled', 'created_at', 'updated_at', 'legacy_row')",
        )
    )
    assert defaults == {
        "routing_enabled": "true",  # the legacy writer's new rows keep being routed
        "created_at": None,  # existing column: its default is the legacy table's
        "updated_at": "now()",  # a column the migration added has the migration's default
        "legacy_row": "false",
    }
    _legacy(
        db,
        "INSERT INTO model_registry_entries (model_name, endpoint_url) VALUES "
        "('legacy-new', 'http://legacy-new:8000/v1')",
    )
    assert rows(db, "SELECT routing_enabled FROM model_registry_entries") == [(True,)]
    # The platform's own rows set their timestamps themselves.
    RegistryEntryProvider().create(entry_props(db))
    assert rows(
        db,
        "SELECT created_at IS NOT NULL, updated_at IS NOT NULL FROM model_registry_entries "
        "WHERE stack IS NOT NULL",
    ) == [(True, True)]


def test_a_migration_changing_an_existing_columns_type_fails_and_is_rolled_back(
    db: str, tmp_path: Path
) -> None:
    for mig in SHIPPED:
        shutil.copy(m.MIGRATIONS_DIR / mig.filename, tmp_path / mig.filename)
    (tmp_path / "0099_retype.sql").write_text(
        "ALTER TABLE model_registry_entries ALTER COLUMN replicas TYPE bigint;"
    )
    with pytest.raises(m.MigrationError, match=r"0099_retype\.sql would change the type"):
        m.migrate(db, m.load_migrations(tmp_path))
    assert rows(
        db,
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = 'model_registry_entries'::regclass AND attname = 'replicas'",
    ) == [("integer",)]


def test_a_uuid_id_table_gives_plain_json_outputs_through_create_update_and_delete(
    db: str,
) -> None:
    _legacy(
        db,
        "CREATE TABLE model_registry_entries (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), "
        "model_name text, endpoint_url text)",
    )
    m.migrate(db)

    created = engine({"method": "create", "props": entry_props(db)})
    [(row_id,)] = rows(db, "SELECT id::text FROM model_registry_entries")
    assert created["outs"]["entry_id"] == row_id
    updated = engine(
        {
            "method": "update",
            "id": created["id"],
            "olds": created["outs"],
            "news": entry_props(db, replicas=4.0),
        }
    )
    assert updated["outs"]["replicas"] == 4
    engine({"method": "delete", "id": created["id"], "olds": updated["outs"]})
    assert rows(
        db,
        "SELECT ev.action FROM model_registry_events ev JOIN model_registry_entries e "
        "ON e.id = ev.entry_id ORDER BY ev.id",
    ) == [("registered",), ("updated",), ("retired",)]
    assert base64.b64decode(serialize_provider(RegistryEntryProvider()))  # by reference
