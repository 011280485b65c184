"""Moving the registry (registry.host/port/database changed) registers the entries in the new
one, against the real PostgreSQL: the router reads the new registry and must see every model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from components.registry import store
from components.registry.connection import connect
from components.registry.providers import RegistryEntryProvider, RegistryRolloutProvider
from components.registry.providers.entry import diff_entry
from components.registry.providers.rollout import diff_rollout
from tests.integration.conftest import database
from tests.integration.helpers import OWNER, entry_props, rows

pytestmark = pytest.mark.integration

MODEL = "llama-3-1-8b-instruct"
JOB1 = f"{MODEL}-smoke-0a1b2c3d"
ROUTABLE = (
    "SELECT image, smoke_job, owner_stack FROM model_registry_entries "
    "WHERE environment = 'staging' AND routing_enabled AND health_status = 'healthy'"
)


@pytest.fixture
def new_registry(pg_server: str, migrated_template: str) -> Iterator[str]:
    """A second migrated, empty registry (where the stack's registry moved to)."""
    with database(pg_server, migrated_template) as dsn:
        yield dsn


def _rollout_props(dsn: str) -> dict[str, Any]:
    return {
        "connection": dsn,
        "environment": "staging",
        "model_name": MODEL,
        "owner_stack": OWNER,
        "stack": "staging",
        "target_image": "vllm/vllm-openai:v0.11.0",
        "target_revision": "0e9e39f249a16976918f6564b8830bc894c89659",
        "target_smoke_job": JOB1,
        "deadline_seconds": 3600.0,
        "note": None,
    }


def test_moving_the_registry_registers_the_entry_healthy_in_the_new_one(
    migrated_db: str, new_registry: str
) -> None:
    old, new = migrated_db, new_registry
    rollout, entry = RegistryRolloutProvider(), RegistryEntryProvider()
    r1 = rollout.create(_rollout_props(old))
    assert r1.outs is not None
    e1 = entry.create(entry_props(old, smoke_evidence=JOB1, rollout=r1.outs["rollout_id"]))
    assert e1.outs is not None

    # The up after the move: only the connection differs for both resources.
    assert diff_rollout(r1.outs, _rollout_props(new)).changes is True
    r2 = rollout.update(e1.id, r1.outs, _rollout_props(new))
    assert r2.outs is not None
    news = entry_props(new, smoke_evidence=JOB1, rollout=r2.outs["rollout_id"])
    assert diff_entry(e1.outs, news).changes is True
    e2 = entry.update(e1.id, e1.outs, news)

    assert rows(new, ROUTABLE) == [("vllm/vllm-openai:v0.11.0", JOB1, OWNER)]
    assert [a for (a,) in rows(new, "SELECT action FROM model_registry_events")] == ["registered"]
    assert e2.outs is not None
    [(new_id,)] = rows(new, "SELECT id FROM model_registry_entries")
    assert (e2.outs["health_status"], e2.outs["entry_id"]) == ("healthy", new_id)
    assert e2.outs["connection"] == new
    assert diff_entry(e2.outs, news).changes is False  # the next up: nothing to do
    assert len(rows(old, ROUTABLE)) == 1  # the old registry is left as it was


def test_a_moved_entry_without_smoke_evidence_is_registered_unknown(
    migrated_db: str, new_registry: str
) -> None:
    entry = RegistryEntryProvider()
    created = entry.create(entry_props(migrated_db, smoke_evidence=None))
    assert created.outs is not None

    moved = entry.update(created.id, created.outs, entry_props(new_registry, smoke_evidence=None))

    assert moved.outs is not None and moved.outs["health_status"] == "unknown"
    with connect(new_registry, autocommit=True) as conn:
        row = store.get_entry(conn, "staging", MODEL)
    assert row is not None and (row.health_status, row.smoke_job) == ("unknown", None)
