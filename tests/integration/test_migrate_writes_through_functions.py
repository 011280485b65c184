"""Migration 0006 on a registry that already holds rows and writer grants from 0001-0005, and a
migration that meets another session's advisory lock."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import conninfo, sql

from components.registry import migrate as m
from components.registry import rollouts, store
from components.registry.connection import connect
from components.registry.writers import bind_writer
from tests.integration.conftest import MakeRole
from tests.integration.helpers import rows, spec

pytestmark = pytest.mark.integration

OWNER = "vllm-platform/staging"
# Direct writes as 0001-0005 deployments granted them (RegistryRoles before 0006).
OLD_WRITER_GRANTS = (
    "GRANT SELECT, INSERT, UPDATE ON model_registry_entries TO {}",
    "GRANT SELECT, INSERT ON model_registry_events TO {}",
    "GRANT USAGE ON model_registry_entries_id_seq, model_registry_events_id_seq TO {}",
)


def _rows_from_0005(db: str) -> None:
    """Rows in every state the platform wrote before 0006 (and one legacy row)."""
    with connect(db, autocommit=True) as conn:
        store_rows = [
            ("healthy-model", "healthy", "m-smoke-1", None),
            ("rolling-model", "rolling_out", "m-smoke-1", "m-smoke-2"),
            ("failed-model", "rollout_failed", "m-smoke-1", "m-smoke-3"),
            ("retired-model", "retired", None, None),
            ("unclaimed-model", "unhealthy", None, None),
        ]
        for name, health, smoke, target in store_rows:
            conn.execute(
                """INSERT INTO model_registry_entries (model_name, environment, endpoint_url,
                       routing_enabled, namespace, deployment_name, image, hf_model_id,
                       model_revision, max_model_len, gpu_type, gpus_per_replica, replicas, stack,
                       health_status, retired_at, owner_stack, smoke_job, target_image,
                       target_revision, target_smoke_job, rollout_started_at,
                       rollout_deadline_at)
                   VALUES (%s, 'staging', %s, %s, 'vllm-staging', %s, 'vllm/vllm-openai:v0.11.0',
                       'org/m', 'a', 8192, 'cpu', 0, 1, 'staging', %s,
                       CASE WHEN %s::text = 'retired' THEN now() END, %s, %s, %s, %s, %s,
                       CASE WHEN %s::text IS NOT NULL THEN now() END,
                       CASE WHEN %s::text IS NOT NULL THEN now() + interval '1 hour' END)""",
                (
                    name,
                    f"http://{name}.vllm-staging.svc.cluster.local:8000/v1",
                    health != "retired",
                    name,
                    health,
                    health,
                    None if name == "unclaimed-model" else OWNER,
                    smoke,
                    "vllm/vllm-openai:v0.12.0" if target else None,
                    "b" if target else None,
                    target,
                    target,
                    target,
                ),
            )
        conn.execute(
            "INSERT INTO model_registry_entries (model_name, environment, health_status, "
            "legacy_row, routing_enabled) VALUES ('legacy', NULL, 'whatever', true, true)"
        )


def test_0006_keeps_every_row_and_state_and_closes_the_old_direct_writes(
    db: str, make_role: MakeRole
) -> None:
    before_0006 = [x for x in m.load_migrations() if x.version <= 5]
    assert [x.version for x in before_0006] == [1, 2, 3, 4, 5]
    m.migrate(db, before_0006)
    _rows_from_0005(db)
    role, writer = make_role("old_writer")
    with psycopg.connect(db, autocommit=True) as conn:
        for grant in OLD_WRITER_GRANTS:
            conn.execute(sql.SQL(grant).format(sql.Identifier(role)))
    snapshot = rows(db, "SELECT * FROM model_registry_entries ORDER BY id")

    assert m.migrate(db, [x for x in m.load_migrations() if x.version <= 6]) == [6]

    assert rows(db, "SELECT * FROM model_registry_entries ORDER BY id") == snapshot
    privileges = rows(
        db,
        "SELECT has_table_privilege(%s, 'model_registry_entries', 'INSERT, UPDATE, DELETE'), "
        "has_table_privilege(%s, 'model_registry_events', 'INSERT'), "
        "has_sequence_privilege(%s, 'model_registry_events_id_seq', 'USAGE'), "
        "has_table_privilege(%s, 'model_registry_entries', 'SELECT')",
        role,
        role,
        role,
        role,
    )
    assert privileges == [(False, False, False, True)]
    with psycopg.connect(writer) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE model_registry_entries SET routing_enabled = true")

    # Today's code calls today's functions: the rest of the migrations keep every row too.
    assert m.migrate(db) == [x.version for x in m.load_migrations() if x.version > 6]
    assert rows(db, "SELECT count(*) FROM model_registry_entries") == [(len(snapshot),)]
    # Bound (as the next `pulumi up` does), the old writer runs the old rows on.
    with psycopg.connect(db, autocommit=True) as conn:
        bind_writer(conn, role, "staging", OWNER)
    served = spec(model_name="rolling-model", stack="staging", model_revision="b")
    with connect(writer, autocommit=True) as conn:
        settled = store.register(conn, served, owner=OWNER, evidence="m-smoke-2")
        claimed = store.register(
            conn, spec(model_name="unclaimed-model", stack="staging"), health_status=None
        )
        failed = rollouts.fail_rollout(
            conn, "staging", "failed-model", owner=OWNER, stack="staging", note="x"
        )
    assert (settled.action, settled.entry.health_status) == ("updated", "healthy")
    assert settled.entry.model_revision == "b" and settled.entry.target_smoke_job is None
    assert (claimed.entry.owner_stack, claimed.entry.health_status) == (OWNER, "unhealthy")
    assert failed is not None and failed.action is None  # already failed: no event


def test_a_migration_meeting_another_sessions_advisory_lock_names_its_holder(
    migrated_db: str,
) -> None:
    holder_dsn = conninfo.make_conninfo(migrated_db, application_name="hostile-holder")
    with psycopg.connect(holder_dsn, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (m.ADVISORY_LOCK_KEY,))
        pid = holder.info.backend_pid
        with pytest.raises(m.MigrationLockError) as info:
            m.migrate(migrated_db, advisory_lock_timeout_ms=300)
    message = str(info.value)
    assert f"held by pid {pid}" in message
    assert "application_name 'hostile-holder'" in message
    assert "user 'postgres'" in message and "session since 20" in message
