"""The grants RegistryRoles declares, applied as SQL to real roles: least privilege holds."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import conninfo

from components.registry import store
from components.registry.connection import connect
from components.registry.writers import bind_writer
from components.resources.registry_roles import (
    READER_GRANTS,
    WRITER_GRANTS,
    GrantSpec,
    grant_statements,
)
from tests.integration.conftest import MakeRole, database, roles
from tests.integration.helpers import OWNER, spec

pytestmark = pytest.mark.integration


def _role_with_grants(db: str, make_role: MakeRole, kind: str, grants: Sequence[GrantSpec]) -> str:
    """A role granted ``grants``; a writer is also bound, as ``RegistryRoles`` does."""
    name, dsn = make_role(kind)
    dbname = str(conninfo.conninfo_to_dict(db)["dbname"])
    with psycopg.connect(db, autocommit=True) as conn:
        for g in grants:
            for statement in grant_statements(g, name, dbname):
                conn.execute(statement)
        if grants == WRITER_GRANTS:
            bind_writer(conn, name, "staging", OWNER)
    return dsn


@dataclass(frozen=True)
class Registry:
    owner: str
    writer: str
    reader: str


@pytest.fixture(scope="module")
def registry(pg_server: str, migrated_template: str) -> Iterator[Registry]:
    """One migrated database with an entry, and a writer and a reader role granted exactly
    what RegistryRoles grants. The denied statements below fail and roll back, so sharing it
    across this module's tests keeps them independent."""
    with database(pg_server, migrated_template) as owner, roles(owner) as make:
        with connect(owner, autocommit=True) as conn:
            store.register(conn, spec())
        yield Registry(
            owner=owner,
            writer=_role_with_grants(owner, make, "writer", WRITER_GRANTS),
            reader=_role_with_grants(owner, make, "reader", READER_GRANTS),
        )


def test_writer_role_registers_updates_and_retires_entries(registry: Registry) -> None:
    writer = registry.writer
    with connect(writer, autocommit=True) as conn:
        new = store.register(conn, spec(model_name="qwen-2-5-7b-instruct"))
        store.register(conn, spec(replicas=4))
        retired = store.retire(conn, "staging", "qwen-2-5-7b-instruct", stack="staging")
        events = store.list_events(conn, new.entry.id)
    assert new.action == "registered"
    assert retired is not None and retired.action == "retired"
    assert [e.action for e in events] == ["registered", "retired"]


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE model_registry_entries ADD COLUMN sneaky text",
        "ALTER TABLE model_registry_entries DROP CONSTRAINT model_registry_entries_replicas_check",
        "DROP TABLE model_registry_events",
        "CREATE TABLE shadow (id int)",
        "DELETE FROM model_registry_entries",
        "TRUNCATE model_registry_entries",
        "ALTER TABLE model_registry_events DISABLE TRIGGER model_registry_events_append_only",
        "UPDATE vllm_platform_schema_migrations SET checksum = checksum",
    ],
)
def test_writer_role_cannot_alter_the_schema_or_delete(registry: Registry, statement: str) -> None:
    writer = registry.writer
    with psycopg.connect(writer) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement.encode())


def test_reader_role_reads_entries_and_events(registry: Registry) -> None:
    reader = registry.reader
    with connect(reader, autocommit=True) as conn:
        entry = store.get_entry(conn, "staging", spec().model_name)
        assert entry is not None and entry.image == spec().image
        assert store.list_events(conn, entry.id)[0].action == "registered"


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO model_registry_entries (model_name) VALUES ('x')",
        "UPDATE model_registry_entries SET routing_enabled = false",
        "DELETE FROM model_registry_entries",
        "INSERT INTO model_registry_events (entry_id, action) SELECT id, 'updated' "
        "FROM model_registry_entries",
        "ALTER TABLE model_registry_entries ADD COLUMN sneaky text",
        "SELECT * FROM vllm_platform_schema_migrations",
    ],
)
def test_reader_role_cannot_write(registry: Registry, statement: str) -> None:
    reader = registry.reader
    with psycopg.connect(reader) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement.encode())


def test_reader_role_cannot_register_through_the_store(registry: Registry) -> None:
    reader = registry.reader
    with (
        connect(reader, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        store.register(conn, spec(replicas=7))
