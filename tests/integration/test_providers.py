"""The dynamic providers against a real PostgreSQL, called as the engine calls them."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from components.registry import migrate as m
from components.registry import store
from components.registry.connection import RegistryConnectionError, connect
from components.registry.providers import RegistryEntryProvider, RegistrySchemaProvider
from components.registry.rows import RegistryRow
from tests.integration.helpers import entry_props, rows

pytestmark = pytest.mark.integration

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODEL = "llama-3-1-8b-instruct"


def _declared(directory: Path = m.MIGRATIONS_DIR) -> dict[str, str]:
    return {mig.key: mig.checksum for mig in m.load_migrations(directory)}


def _events(dsn: str) -> list[tuple[Any, ...]]:
    return rows(
        dsn,
        "SELECT action, old_values, new_values, note FROM model_registry_events ORDER BY id",
    )


def _entry(dsn: str) -> RegistryRow:
    with connect(dsn, autocommit=True) as conn:
        found = store.get_entry(conn, "staging", MODEL)
    assert found is not None
    return found


@pytest.fixture
def schema_db(migrated_db: str) -> str:
    return migrated_db


def test_schema_create_applies_migrations_and_outputs_versions_without_the_dsn(db: str) -> None:
    props = {"connection": db, "database": "registry", "migrations": _declared()}
    created = RegistrySchemaProvider().create(props)

    assert created.outs is not None
    shipped = [mig.version for mig in m.load_migrations()]
    assert created.outs["applied_versions"] == shipped
    assert created.outs["schema_version"] == shipped[-1]
    assert created.outs["migrations"] == _declared()
    assert [k for k, v in created.outs.items() if v == db] == ["connection"]
    assert rows(db, "SELECT to_regclass('model_registry_events') IS NOT NULL") == [(True,)]


def test_schema_diff_and_update_apply_a_new_migration_file(db: str, tmp_path: Path) -> None:
    for name in _declared():
        shutil.copy(m.MIGRATIONS_DIR / f"{name}.sql", tmp_path / f"{name}.sql")
    provider = RegistrySchemaProvider(directory=tmp_path)
    olds = provider.create({"connection": db, "database": "r", "migrations": _declared(tmp_path)})
    assert olds.outs is not None
    same = {"connection": db, "database": "r", "migrations": _declared(tmp_path)}
    assert provider.diff(olds.id, olds.outs, same).changes is False

    shipped = [mig.version for mig in m.load_migrations()]
    (tmp_path / f"{shipped[-1] + 1:04d}_note.sql").write_text(
        "ALTER TABLE model_registry_entries ADD COLUMN IF NOT EXISTS release_note text;"
    )
    news = {**same, "migrations": _declared(tmp_path)}
    diff = provider.diff(olds.id, olds.outs, news)
    updated = provider.update(olds.id, olds.outs, news)

    assert (diff.changes, diff.replaces) == (True, [])
    assert updated.outs is not None
    assert updated.outs["applied_versions"] == [*shipped, shipped[-1] + 1]
    read = provider.read(olds.id, updated.outs)
    assert read.outs is not None and read.outs["migrations"] == _declared(tmp_path)


def test_entry_create_registers_a_healthy_row_and_a_registered_event(schema_db: str) -> None:
    created = RegistryEntryProvider().create(entry_props(schema_db, note="release 7"))

    row = _entry(schema_db)
    assert created.id == f"staging/{MODEL}"
    assert created.outs is not None
    assert created.outs["entry_id"] == row.id
    assert (created.outs["health_status"], created.outs["registry_action"]) == (
        "healthy",
        "registered",
    )
    assert (row.health_status, row.routing_enabled, row.replicas, row.stack) == (
        "healthy",
        True,
        2,
        "staging",
    )
    [(action, old, new, note)] = _events(schema_db)
    assert (action, old, note) == ("registered", None, "release 7")
    assert new["image"] == "vllm/vllm-openai:v0.11.0" and new["health_status"] == "healthy"


def test_entry_update_writes_only_the_changed_fields_and_an_updated_event(schema_db: str) -> None:
    provider = RegistryEntryProvider()
    created = provider.create(entry_props(schema_db))
    assert created.outs is not None
    news = entry_props(schema_db, image="vllm/vllm-openai:v0.12.0", replicas=3.0)

    diff = provider.diff(created.id, created.outs, news)
    updated = provider.update(created.id, created.outs, news)

    assert (diff.changes, diff.replaces) == (True, [])
    assert updated.outs is not None and updated.outs["registry_action"] == "updated"
    row = _entry(schema_db)
    assert (row.image, row.replicas) == ("vllm/vllm-openai:v0.12.0", 3)
    assert _events(schema_db)[-1] == (
        "updated",
        {"image": "vllm/vllm-openai:v0.11.0", "replicas": 2},
        {"image": "vllm/vllm-openai:v0.12.0", "replicas": 3},
        None,
    )


def test_entry_update_marked_as_rollback_records_rolled_back(schema_db: str) -> None:
    provider = RegistryEntryProvider()
    created = provider.create(entry_props(schema_db, image="vllm/vllm-openai:v0.12.0"))
    assert created.outs is not None
    news = entry_props(schema_db, change_kind="rollback", note="rollback to release 6")

    provider.update(created.id, created.outs, news)

    assert _entry(schema_db).image == "vllm/vllm-openai:v0.11.0"
    assert _events(schema_db)[-1][0] == "rolled_back"
    assert _events(schema_db)[-1][3] == "rollback to release 6"


def test_entry_delete_retires_the_row_and_keeps_it(schema_db: str) -> None:
    provider = RegistryEntryProvider()
    created = provider.create(entry_props(schema_db))
    assert created.outs is not None

    provider.delete(created.id, created.outs)
    provider.delete(created.id, created.outs)  # idempotent: no second event

    row = _entry(schema_db)
    assert (row.health_status, row.routing_enabled) == ("retired", False)
    assert row.retired_at is not None
    assert [e[0] for e in _events(schema_db)] == ["registered", "retired"]
    assert _events(schema_db)[-1][3] == "removed from stack staging"


def test_entry_created_again_after_delete_reactivates_the_same_row(schema_db: str) -> None:
    provider = RegistryEntryProvider()
    first = provider.create(entry_props(schema_db))
    assert first.outs is not None
    provider.delete(first.id, first.outs)

    again = provider.create(entry_props(schema_db, routing_enabled=False))

    assert again.outs is not None
    assert again.outs["entry_id"] == first.outs["entry_id"]
    assert again.outs["registry_action"] == "reactivated"
    row = _entry(schema_db)
    assert (row.health_status, row.routing_enabled, row.retired_at) == ("healthy", False, None)
    assert [e[0] for e in _events(schema_db)] == ["registered", "retired", "reactivated"]
    assert rows(schema_db, "SELECT count(*) FROM model_registry_entries") == [(1,)]


def test_entry_read_reports_drift_and_a_retired_row_as_gone(schema_db: str) -> None:
    provider = RegistryEntryProvider()
    created = provider.create(entry_props(schema_db))
    assert created.outs is not None
    with psycopg.connect(schema_db) as conn:
        conn.execute("UPDATE model_registry_entries SET replicas = 9")

    refreshed = provider.read(created.id, created.outs)

    assert refreshed.id == created.id and refreshed.outs is not None
    assert refreshed.outs["replicas"] == 9
    assert refreshed.outs["connection"] == schema_db  # kept, so delete can still connect
    assert provider.diff(created.id, refreshed.outs, entry_props(schema_db)).changes is True
    provider.delete(created.id, created.outs)
    gone = provider.read(created.id, created.outs)
    assert (gone.id, gone.outs) == (None, {})


def test_entry_diff_replaces_only_when_environment_or_model_name_change(schema_db: str) -> None:
    provider = RegistryEntryProvider()
    created = provider.create(entry_props(schema_db))
    assert created.outs is not None
    olds = created.outs

    assert provider.diff(created.id, olds, entry_props(schema_db)).changes is False
    assert provider.diff(created.id, olds, entry_props(schema_db, note="x")).changes is False
    renamed = provider.diff(created.id, olds, entry_props(schema_db, model_name="other"))
    moved = provider.diff(created.id, olds, entry_props(schema_db, environment="production"))
    assert (renamed.changes, renamed.replaces) == (True, ["model_name"])
    assert (moved.changes, moved.replaces) == (True, ["environment"])


def test_connection_errors_never_carry_the_password(schema_db: str) -> None:
    password = "hunter2-Sup3r-Secret"
    bad = f"postgresql://nobody_here:{password}@127.0.0.1:1/registry"
    with pytest.raises(RegistryConnectionError) as info:
        RegistryEntryProvider().create(entry_props(bad))
    assert password not in str(info.value)
    assert "***" in str(info.value)


_RUN_PICKLED = """
import base64, json, sys
import dill
from pulumi.runtime._serialization import _deserialize
provider = _deserialize(lambda: dill.loads(base64.b64decode(sys.argv[1])))
props = json.loads(sys.stdin.read())
result = provider.create(props)
outs = {k: v for k, v in result.outs.items() if k != "connection"}
print(json.dumps({"id": result.id, "outs": outs, "type": type(provider).__module__}))
"""


def test_provider_pickled_like_the_sdk_runs_in_a_fresh_process_from_the_project_root(
    schema_db: str,
) -> None:
    blob = serialize_provider(RegistryEntryProvider())
    # By reference: the provider process imports the module, it does not get a copy of it.
    assert b"components.registry.providers" in base64.b64decode(blob)

    done = subprocess.run(
        [sys.executable, "-c", _RUN_PICKLED, blob],
        input=json.dumps(entry_props(schema_db)),
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["id"] == f"staging/{MODEL}"
    assert result["type"] == "components.registry.providers.entry"
    assert result["outs"]["registry_action"] == "registered"
    assert _entry(schema_db).id == result["outs"]["entry_id"]
    assert [e[0] for e in _events(schema_db)] == ["registered"]


# The provider as states written before the providers became a package hold it (dill, by
# reference to ``components.registry.providers.RegistryEntryProvider``): they must keep loading.
_ENTRY_PICKLED_BEFORE_THE_PACKAGE = (
    "gASVPgAAAAAAAACMHWNvbXBvbmVudHMucmVnaXN0cnkucHJvdmlkZXJz"
    "lIwVUmVnaXN0cnlFbnRyeVByb3ZpZGVylJOUKYGULg=="
)


def test_provider_pickled_before_the_package_still_runs_in_a_fresh_process(
    schema_db: str,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _RUN_PICKLED, _ENTRY_PICKLED_BEFORE_THE_PACKAGE],
        input=json.dumps(entry_props(schema_db)),
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["type"] == "components.registry.providers.entry"
    assert result["outs"]["registry_action"] == "registered"
