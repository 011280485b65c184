"""Ownership across stacks and health that does not lie, through the provider as the engine runs
it (pickled into a fresh process) against the real PostgreSQL."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import conninfo, sql

from components.config.source import load_from_stack_file
from components.manifests.vllm.render import model_objects
from components.planning.capacity import plan_stack
from components.registry import store
from components.registry.providers import RegistryEntryProvider
from components.registry.providers.entry import diff_entry
from components.registry.writers import bind_writer
from ops.registry_cli import main
from tests.integration.conftest import MakeRole, roles
from tests.integration.helpers import OWNER, engine, entry_props, rows
from tests.support.stackfiles import ROOT

pytestmark = pytest.mark.integration

MODEL = "llama-3-1-8b-instruct"
COPY = "vllm-platform/staging-copy"


def _copy_props(dsn: str, **overrides: Any) -> dict[str, Any]:
    """What a copy of the staging stack declares for the same model (another namespace)."""
    return entry_props(
        dsn,
        owner_stack=COPY,
        stack="staging-copy",
        namespace="vllm-staging-copy",
        endpoint_url=f"http://{MODEL}.vllm-staging-copy.svc.cluster.local:8000/v1",
        **overrides,
    )


def _row(dsn: str) -> tuple[Any, ...]:
    [found] = rows(
        dsn,
        "SELECT endpoint_url, health_status, routing_enabled, owner_stack, replicas, updated_at "
        "FROM model_registry_entries WHERE environment = 'staging' AND model_name = %s",
        MODEL,
    )
    return found


def _actions(dsn: str) -> list[str]:
    return [str(r[0]) for r in rows(dsn, "SELECT action FROM model_registry_events ORDER BY id")]


def _create(dsn: str, props: dict[str, Any]) -> dict[str, Any]:
    created = engine({"method": "create", "props": props})
    assert "error" not in created, created
    return created


def _create_inline(dsn: str, props: dict[str, Any]) -> dict[str, Any]:
    created = engine(fresh=False, request={"method": "create", "props": props})
    assert "error" not in created, created
    return created


# ---------------------------------------------------------------------------------- ownership


def test_another_stack_can_neither_take_over_update_nor_retire_the_entry(
    migrated_db: str,
) -> None:
    db = migrated_db
    prod = _create(db, entry_props(db))
    before = _row(db)
    assert before[3] == OWNER

    takeover = engine({"method": "create", "props": _copy_props(db)})
    assert "OwnershipError" in takeover["error"]
    assert f"belongs to {OWNER}, not {COPY}" in takeover["error"]
    assert "python -m ops registry adopt" in takeover["error"]

    # The copy stack holding a (stale) resource for the entry: its update and destroy.
    copy_state = {**prod["outs"], **_copy_props(db), "owner_stack": COPY}
    update = engine(
        {
            "method": "update",
            "id": prod["id"],
            "olds": copy_state,
            "news": _copy_props(db, replicas=7.0),
        }
    )
    assert "OwnershipError" in update["error"] and OWNER in update["error"]
    destroy = engine({"method": "delete", "id": prod["id"], "olds": copy_state})
    assert "OwnershipError" in destroy["error"] and "refusing to retire" in destroy["error"]

    assert _row(db) == before  # production's endpoint, health and routing untouched
    assert _actions(db) == ["registered"]


def test_adopt_hands_the_entry_over_on_purpose_and_records_it(
    migrated_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = migrated_db
    prod = _create_inline(db, entry_props(db))

    assert (
        main(
            [
                "registry",
                "adopt",
                "--dsn",
                db,
                "--environment",
                "staging",
                "--model",
                MODEL,
                "--owner",
                COPY,
                "--reason",
                "staging moves to the copy stack",
            ]
        )
        == 0
    )
    assert f"owner {OWNER} -> {COPY}" in capsys.readouterr().out
    [(old, new, note, stack)] = rows(
        db,
        "SELECT old_values, new_values, note, stack FROM model_registry_events "
        "WHERE action = 'adopted'",
    )
    assert (old, new, stack) == ({"owner_stack": OWNER}, {"owner_stack": COPY}, "staging-copy")
    assert note.startswith("staging moves to the copy stack (by ")

    # Now the copy stack may write it, and the old owner's destroy is refused.
    taken = _create_inline(db, _copy_props(db))
    assert taken["outs"]["owner_stack"] == COPY
    assert _row(db)[0].startswith(f"http://{MODEL}.vllm-staging-copy.")
    old_destroy = engine(
        fresh=False, request={"method": "delete", "id": prod["id"], "olds": prod["outs"]}
    )
    assert f"belongs to {COPY}" in old_destroy["error"]
    assert _row(db)[2] is True  # still routed


def test_after_an_adopt_the_old_stacks_refresh_neither_takes_the_entry_nor_lets_destroy_retire_it(
    migrated_db: str,
) -> None:
    db = migrated_db
    old = _create(db, entry_props(db))
    with psycopg.connect(db, autocommit=True) as conn:
        store.adopt(conn, "staging", MODEL, owner=COPY, reason="staging moves to the copy")
    _create_inline(db, _copy_props(db))  # the new owner's `pulumi up`
    before, events = _row(db), _actions(db)

    # The old stack's `pulumi refresh` (or `destroy --refresh`), then its preview and destroy.
    refreshed = engine(
        fresh=False, request={"method": "read", "id": old["id"], "olds": old["outs"]}
    )
    assert refreshed["id"] == old["id"]
    assert refreshed["outs"]["owner_stack"] == OWNER  # still this stack's own owner
    assert refreshed["outs"]["row_owner_stack"] == COPY  # the row's owner, as drift
    preview = engine(
        fresh=False,
        request={
            "method": "diff",
            "id": old["id"],
            "olds": refreshed["outs"],
            "news": entry_props(db),
        },
    )
    assert preview["outs"]["changes"] is True  # the drift check says this stack lost it
    destroy = engine({"method": "delete", "id": old["id"], "olds": refreshed["outs"]})

    assert f"belongs to {COPY}, not {OWNER}" in destroy.get("error", ""), destroy
    assert _row(db) == before  # the new owner's entry stays healthy and routed
    assert before[1:4] == ("healthy", True, COPY)
    assert _actions(db) == events


def test_adopt_refuses_a_malformed_owner_and_a_missing_entry(
    migrated_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["registry", "adopt", "--dsn", migrated_db, "--environment", "staging"]
    assert main([*base, "--model", MODEL, "--owner", "no-slash", "--reason", "x"]) == 2
    assert "--owner" in capsys.readouterr().err
    assert main([*base, "--model", "nope", "--owner", COPY, "--reason", "x"]) == 2
    assert "no registry entry staging/nope" in capsys.readouterr().err


def test_a_row_from_before_ownership_is_claimed_only_by_the_stack_it_names(
    migrated_db: str,
) -> None:
    db = migrated_db
    _create_inline(db, entry_props(db))
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("UPDATE model_registry_entries SET owner_stack = NULL")  # pre-0004 row

    refused = engine(fresh=False, request={"method": "create", "props": _copy_props(db)})
    assert "belongs to stack 'staging' (unclaimed)" in refused["error"]
    claimed = _create_inline(db, entry_props(db))
    assert claimed["outs"]["owner_stack"] == OWNER
    assert _row(db)[3] == OWNER


# ------------------------------------------------------------------------------------- health


def _reporter_marks_unhealthy(dsn: str) -> None:
    """What the health reporter does past its failure threshold with routing control on."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE model_registry_entries SET health_status = 'unhealthy', "
            "routing_enabled = false, consecutive_failures = 3"
        )


def test_a_rotated_password_refreshes_outputs_and_writes_nothing(migrated_db: str) -> None:
    db = migrated_db
    with roles(db) as make_role:
        _rotation(db, make_role)


def _rotation(db: str, make_role: MakeRole) -> None:
    role, _ = make_role("writer")
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(
            sql.SQL("GRANT ALL ON ALL TABLES IN SCHEMA public TO {}").format(sql.Identifier(role))
        )
        conn.execute(
            sql.SQL("GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {}").format(
                sql.Identifier(role)
            )
        )
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD 'first'").format(sql.Identifier(role)))
        bind_writer(conn, role, "staging", OWNER)
    first = conninfo.make_conninfo(db, user=role, password="first")
    rotated = conninfo.make_conninfo(db, user=role, password="second")
    created = _create(db, entry_props(first))
    _reporter_marks_unhealthy(db)
    before, events = _row(db), _actions(db)
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD 'second'").format(sql.Identifier(role)))

    news = entry_props(rotated)
    assert diff_entry(created["outs"], news).changes is True  # the state must get the new DSN
    updated = engine(
        {"method": "update", "id": created["id"], "olds": created["outs"], "news": news}
    )

    assert "error" not in updated, updated
    assert updated["outs"]["connection"] == rotated
    assert updated["outs"]["health_status"] == "unhealthy"
    assert _row(db) == before  # health, routing and updated_at untouched
    assert _actions(db) == events
    # Destroy later connects with the stored (rotated) connection.
    assert "error" not in engine({"method": "delete", "id": created["id"], "olds": updated["outs"]})


def _smoke_job(stack: str, **model_changes: Any) -> str:
    """The name of the smoke Job the program creates for the stack's first model."""
    loaded = load_from_stack_file(ROOT / f"Pulumi.{stack}.yaml")
    cfg = loaded.config
    model = cfg.models[0].model_copy(update=model_changes)
    cfg = cfg.model_copy(update={"models": [model, *cfg.models[1:]]})
    [job] = [
        o
        for o in model_objects(cfg, model, plan_stack(cfg).model(model.name))
        if o["kind"] == "Job"
    ]
    return str(job["metadata"]["name"])


def test_a_change_that_keeps_the_smoke_job_keeps_the_recorded_health(migrated_db: str) -> None:
    """routingEnabled does not change the smoke Job: no new test ran, so no new evidence."""
    db = migrated_db
    assert _smoke_job("staging", routing_enabled=False) == _smoke_job("staging")
    created = _create_inline(db, entry_props(db))
    with psycopg.connect(db, autocommit=True) as conn:  # unhealthy, routing left on
        conn.execute("UPDATE model_registry_entries SET health_status = 'unhealthy'")

    updated = engine(
        fresh=False,
        request={
            "method": "update",
            "id": created["id"],
            "olds": created["outs"],
            "news": entry_props(db, routing_enabled=False),
        },
    )

    assert "error" not in updated, updated
    assert _row(db)[1:3] == ("unhealthy", False)
    assert updated["outs"]["health_status"] == "unhealthy"


def test_a_replicas_change_is_a_new_smoke_test_of_every_replica_so_it_writes_healthy(
    migrated_db: str,
) -> None:
    """The smoke Job's name hashes the replica count (it tests every replica): the program's
    replicas change brings new evidence, and its pass is recorded as healthy."""
    db = migrated_db
    before, after = _smoke_job("staging", replicas=2), _smoke_job("staging", replicas=3)
    assert before != after
    created = _create_inline(db, entry_props(db, replicas=2.0, smoke_evidence=before))
    _reporter_marks_unhealthy(db)

    news = entry_props(db, replicas=3.0, smoke_evidence=after)
    updated = engine(
        fresh=False,
        request={"method": "update", "id": created["id"], "olds": created["outs"], "news": news},
    )

    assert "error" not in updated, updated
    assert _row(db)[1:5] == ("healthy", True, OWNER, 3)


def test_a_new_passing_smoke_test_is_the_evidence_that_makes_the_entry_healthy(
    migrated_db: str,
) -> None:
    db = migrated_db
    created = _create_inline(db, entry_props(db))
    _reporter_marks_unhealthy(db)
    news = entry_props(
        db, image="vllm/vllm-openai:v0.12.0", smoke_evidence="llama-3-1-8b-instruct-smoke-feedbeef"
    )

    updated = engine(
        fresh=False,
        request={"method": "update", "id": created["id"], "olds": created["outs"], "news": news},
    )

    assert "error" not in updated, updated
    assert _row(db)[1:3] == ("healthy", True)
    assert rows(db, "SELECT consecutive_failures FROM model_registry_entries") == [(0,)]
    assert updated["outs"]["smoke_evidence"] == "llama-3-1-8b-instruct-smoke-feedbeef"


def test_the_provider_keeps_no_state_between_calls() -> None:
    assert vars(RegistryEntryProvider()) == {}
