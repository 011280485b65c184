"""LoRA adapters' registry rows (migration 0008) against the real PostgreSQL: one row per adapter
beside its base model's, taken through the base model's rollout in the engine's call order
(marker, then, once the smoke Job passed, the entries), failed and expired with it, kept in step
with the base model's health probes, retired on removal, and out of reach of other writers."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

import psycopg
import pytest

from components.registry import migrate as m
from components.registry import rollouts, store
from components.registry.connection import connect
from components.registry.rows import EntrySpec, RegistryRow
from components.registry.writers import bind_writer
from tests.integration.conftest import MakeRole
from tests.integration.helpers import (
    OWNER,
    call,
    entry_props,
    register_with_an_older_schema,
    report_sql,
    row_of,
    rows,
    spec,
    writer_roles,
)
from tests.integration.test_rollout_states import (
    JOB1,
    JOB2,
    JOB3,
    MODEL,
    V1,
    V2,
    V3,
    _rollout_props,
)

pytestmark = pytest.mark.integration

ADAPTER = "sql-expert"
ADAPTER_FIELDS = {
    "model_name": ADAPTER,
    "base_model_name": MODEL,
    "adapter_hf_repo": "acme/sql-expert-lora",
    "adapter_revision": "1" * 40,
}
BASE_ENDPOINT = spec().endpoint_url
STATES = (
    "SELECT model_name, health_status, image, smoke_job FROM model_registry_entries ORDER BY id"
)


def _adapter_props(dsn: str, **overrides: Any) -> dict[str, Any]:
    return entry_props(dsn, **ADAPTER_FIELDS, **overrides)


def _rollout(method: str, **request: Any) -> dict[str, Any]:
    from components.registry.providers import RegistryRolloutProvider

    result: dict[str, Any] = call(method, f"staging/{MODEL}", RegistryRolloutProvider(), **request)
    return result


def _entries(method: str, dsn: str, olds: list[dict[str, Any]] | None, **props: Any) -> list[Any]:
    """The base model's entry and its adapter's, as the engine runs them after the smoke Job."""
    news = [entry_props(dsn, **props), _adapter_props(dsn, **props)]
    if olds is None:
        return [call("create", f"staging/{n['model_name']}", props=n)["outs"] for n in news]
    return [
        call("update", f"staging/{n['model_name']}", olds=o, news=n)["outs"]
        for o, n in zip(olds, news, strict=True)
    ]


def _adapter(dsn: str) -> RegistryRow:
    return row_of(dsn, "staging", ADAPTER)


def test_an_adapter_row_follows_its_base_model_through_rollouts(migrated_db: str) -> None:
    dsn = migrated_db
    r1 = _rollout("create", props=_rollout_props(dsn, V1, JOB1))
    e1 = _entries(
        "create", dsn, None, image=V1, smoke_evidence=JOB1, rollout=r1["outs"]["rollout_id"]
    )
    row = _adapter(dsn)
    # What the router reads: the adapter's own name at the base model's endpoint, and which base.
    assert (row.model_name, row.endpoint_url, row.routing_enabled) == (ADAPTER, BASE_ENDPOINT, True)
    assert (row.base_model_name, row.adapter_hf_repo, row.adapter_revision) == (
        MODEL,
        "acme/sql-expert-lora",
        "1" * 40,
    )
    # The base model's served fields and smoke evidence (its Job sent a completion to the adapter).
    assert (row.hf_model_id, row.model_revision, row.image) == (
        spec().hf_model_id,
        spec().model_revision,
        V1,
    )
    assert (row.health_status, row.smoke_job) == ("healthy", JOB1)
    assert row_of(dsn, "staging", MODEL).base_model_name is None

    # A passing update: both rows rolling_out towards the same target until the Job passed.
    r2 = _rollout("update", olds=r1["outs"], news=_rollout_props(dsn, V2, JOB2))
    assert rows(dsn, STATES) == [
        (MODEL, "rolling_out", V1, JOB1),
        (ADAPTER, "rolling_out", V1, JOB1),
    ]
    assert (_adapter(dsn).target_image, _adapter(dsn).target_smoke_job) == (V2, JOB2)
    e2 = _entries(
        "update", dsn, e1, image=V2, smoke_evidence=JOB2, rollout=r2["outs"]["rollout_id"]
    )
    assert rows(dsn, STATES) == [(MODEL, "healthy", V2, JOB2), (ADAPTER, "healthy", V2, JOB2)]
    assert _adapter(dsn).target_image is None

    # A failing update: the entries are never called; the deadline rule fails both rows.
    _rollout("update", olds=r2["outs"], news=_rollout_props(dsn, V3, JOB3))
    # An adapter registration without the rollout's own evidence records no new served fields.
    with connect(dsn, autocommit=True) as conn:
        store.register(conn, _spec(e2[1], image=V3, adapter_revision="2" * 40), evidence=JOB2)
    assert (_adapter(dsn).image, _adapter(dsn).adapter_revision) == (V2, "1" * 40)
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "UPDATE model_registry_entries SET rollout_deadline_at = now() - interval '1 second'"
        )
    with connect(dsn, autocommit=True) as conn:
        assert rollouts.expire_rollouts(conn, "staging") == 2
    assert rows(dsn, STATES) == [
        (MODEL, "rollout_failed", V2, JOB2),
        (ADAPTER, "rollout_failed", V2, JOB2),
    ]


def _spec(outs: dict[str, Any], **overrides: Any) -> EntrySpec:
    values = {k: outs[k] for k in asdict(spec())}
    values.update({k: int(values[k]) for k in ("max_model_len", "gpus_per_replica", "replicas")})
    return EntrySpec(**{**values, **overrides})


def test_a_failed_up_marks_the_adapter_rows_failed_with_their_base(migrated_db: str) -> None:
    from ops.deploy import mark_failed_rollouts

    dsn = migrated_db
    _entries("create", dsn, None, smoke_evidence=JOB1)
    target = rollouts.RolloutTarget(V2, spec().model_revision, JOB2, deadline_seconds=3600)
    with connect(dsn, autocommit=True) as conn:
        rollouts.begin_rollout(conn, "staging", MODEL, target, owner=OWNER, stack="staging")
        # Failing the base model's rollout fails its adapter's with it.
        failed = rollouts.fail_rollout(
            conn, "staging", MODEL, owner=OWNER, stack="staging", note="by hand"
        )
        assert failed is not None and failed.action == "rollout_failed"
        assert _adapter(dsn).health_status == "rollout_failed"
        target = replace(target, image=V3, smoke_job=JOB3)
        rollouts.begin_rollout(conn, "staging", MODEL, target, owner=OWNER, stack="staging")
        assert _adapter(dsn).target_image == V3

    assert mark_failed_rollouts(dsn, "staging", "boom") == (
        f"marked rollout_failed: staging/{MODEL}, staging/{ADAPTER}"
    )
    assert [s for (_, s, _, _) in rows(dsn, STATES)] == ["rollout_failed", "rollout_failed"]


def test_removing_an_adapter_retires_its_row_only(migrated_db: str) -> None:
    dsn = migrated_db
    base, adapter = _entries("create", dsn, None, smoke_evidence=JOB1)

    call("delete", f"staging/{ADAPTER}", olds=adapter)

    assert [(n, s) for (n, s, _, _) in rows(dsn, STATES)] == [
        (MODEL, "healthy"),
        (ADAPTER, "retired"),
    ]
    assert _adapter(dsn).routing_enabled is False
    # A retired adapter row starts no rollout with its base.
    target = rollouts.RolloutTarget(V2, spec().model_revision, JOB2, deadline_seconds=60)
    with connect(dsn, autocommit=True) as conn:
        rollouts.begin_rollout(conn, "staging", MODEL, target, owner=OWNER, stack="staging")
    assert _adapter(dsn).health_status == "retired"
    assert base["health_status"] == "healthy"


def test_the_base_models_probe_is_recorded_on_its_adapter_rows(migrated_db: str) -> None:
    dsn = migrated_db
    _entries("create", dsn, None, smoke_evidence=JOB1)
    probe = {"env": "staging", "owner": OWNER, "name": MODEL, "threshold": "2"}

    report_sql(dsn, **probe, status="unhealthy", disable_routing="true")
    assert [(s, r) for (s, r) in rows(dsn, HEALTH)] == [("healthy", True), ("healthy", True)]
    out = report_sql(dsn, **probe, status="unhealthy", disable_routing="true")

    assert out.strip() == "changed from healthy, routing turned off, event recorded"
    assert rows(dsn, HEALTH) == [("unhealthy", False), ("unhealthy", False)]
    [(note,)] = rows(
        dsn,
        "SELECT v.note FROM model_registry_events v JOIN model_registry_entries e "
        "ON e.id = v.entry_id WHERE e.model_name = %s AND v.action = 'health_changed'",
        ADAPTER,
    )
    assert note.endswith(f"(its base model {MODEL})")

    report_sql(dsn, **probe, status="healthy", disable_routing="true")
    assert rows(dsn, HEALTH) == [("healthy", False), ("healthy", False)]  # routing stays off


HEALTH = "SELECT health_status, routing_enabled FROM model_registry_entries ORDER BY id"


def test_another_stacks_row_naming_our_base_model_never_follows_it(
    migrated_db: str, make_role: MakeRole
) -> None:
    """A writer of the same environment but another stack registers an "adapter" of our model:
    our rollout and probes neither touch nor are blocked by it; another environment's writer
    may not register one at all."""
    dsn = migrated_db
    from tests.integration.conftest import roles

    with roles(dsn) as make:
        made = writer_roles(dsn, make, ("ours", "canary", "production"))
        with psycopg.connect(dsn, autocommit=True) as conn:
            bind_writer(conn, made["ours"][0], "staging", OWNER)
            bind_writer(conn, made["canary"][0], "staging", "vllm-platform/canary")
            bind_writer(conn, made["production"][0], "production", "vllm-platform/production")
        _entries("create", dsn, None, smoke_evidence=JOB1)
        hostile = replace(spec(**ADAPTER_FIELDS), model_name="hijack", stack="canary")
        with connect(made["canary"][1], autocommit=True) as conn:
            store.register(conn, hostile, evidence="canary-smoke")
        with (
            connect(made["production"][1], autocommit=True) as conn,
            pytest.raises(
                psycopg.errors.InsufficientPrivilege, match="writes environment production"
            ),
        ):
            store.register(conn, replace(hostile, model_name="evil"), evidence="x")

        target = rollouts.RolloutTarget(V2, spec().model_revision, JOB2, deadline_seconds=60)
        with connect(made["ours"][1], autocommit=True) as conn:  # our own bound writer
            rollouts.begin_rollout(conn, "staging", MODEL, target, owner=OWNER, stack="staging")
        report_sql(dsn, env="staging", owner=OWNER, name=MODEL, threshold="1",
                   status="unhealthy", disable_routing="true")  # fmt: skip

        assert [(n, s) for (n, s, _, _) in rows(dsn, STATES)] == [
            (MODEL, "rolling_out"),
            (ADAPTER, "rolling_out"),
            ("hijack", "healthy"),
        ]
        assert rows(
            dsn, "SELECT count(*) FROM model_registry_entries WHERE model_name = 'evil'"
        ) == [(0,)]


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"adapter_revision": None}, "adapter_check"),
        ({"base_model_name": ADAPTER}, "adapter_check"),
    ],
    ids=["part of an adapter", "its own base"],
)
def test_an_adapter_row_is_all_or_nothing(
    migrated_db: str, overrides: dict[str, Any], why: str
) -> None:
    with (
        connect(migrated_db, autocommit=True) as conn,
        pytest.raises(psycopg.errors.CheckViolation, match=why),
    ):
        store.register(conn, spec(**{**ADAPTER_FIELDS, **overrides}), owner=OWNER)
    assert rows(migrated_db, "SELECT count(*) FROM model_registry_entries") == [(0,)]


def test_0008_keeps_every_row_of_a_registry_migrated_to_0007(db: str) -> None:
    m.migrate(db, [x for x in m.load_migrations() if x.version <= 7])
    register_with_an_older_schema(db, spec(), owner=OWNER, evidence=JOB1)
    register_with_an_older_schema(
        db, spec(model_name="other", stack="staging"), owner=OWNER, health_status="unknown"
    )
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(
            "SELECT vllm_platform_registry_begin_rollout(p_environment => 'staging', "
            "p_model_name => %s, p_image => %s, p_revision => 'b', p_smoke_job => %s, "
            "p_deadline_seconds => 600, p_owner => %s, p_stack => 'staging', p_note => NULL)",
            (MODEL, V2, JOB2, OWNER),
        )
    before = rows(db, "SELECT * FROM model_registry_entries ORDER BY id")
    events = rows(db, "SELECT * FROM model_registry_events ORDER BY id")

    assert m.migrate(db) == [8]

    after = rows(db, "SELECT * FROM model_registry_entries ORDER BY id")
    assert [a[: len(b)] for a, b in zip(after, before, strict=True)] == before
    assert [a[len(b) :] for a, b in zip(after, before, strict=True)] == [(None,) * 3] * 2
    assert rows(db, "SELECT * FROM model_registry_events ORDER BY id") == events
    # The rollout the old function started settles with today's code and its own smoke Job.
    with connect(db, autocommit=True) as conn:
        settled = store.register(
            conn, spec(image=V2, model_revision="b"), owner=OWNER, evidence=JOB2
        )
    assert (settled.action, settled.entry.health_status) == ("updated", "healthy")
