"""Registry states through a simulated rollout, against the real PostgreSQL.

Each `pulumi up` is simulated as the engine runs it: the model's ``RegistryRollout`` first (the
workload waits for it), then, only when the smoke Job passed, its ``RegistryEntry`` (a failed
Job cancels the rest of the update, so the entry is not called). Provider calls go through the
engine's pickling (``helpers.engine``); the first one in a fresh process.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from components.registry import rollouts, store
from components.registry.connection import connect
from components.registry.providers import RegistryEntryProvider, RegistryRolloutProvider
from components.registry.providers.entry import diff_entry
from components.registry.rows import SPEC_FIELDS, EntrySpec, Outcome, OwnershipError, RegistryRow
from components.resources.registry import RegistryRollout
from tests.integration.helpers import OWNER, call, engine, entry_props, row_of, rows

pytestmark = pytest.mark.integration

MODEL = "llama-3-1-8b-instruct"
V1, V2, V3 = "vllm/vllm-openai:v0.11.0", "vllm/vllm-openai:v0.11.1", "vllm/vllm-openai:v0.12.0"
JOB1, JOB2, JOB3 = (f"{MODEL}-smoke-{h}" for h in ("0a1b2c3d", "1b2c3d4e", "2c3d4e5f"))
REVISION = "0e9e39f249a16976918f6564b8830bc894c89659"
# What the router reads: routable rows (the routable index's predicate, migration 0002).
ROUTABLE = (
    "SELECT image FROM model_registry_entries "
    "WHERE environment = 'staging' AND routing_enabled AND health_status = 'healthy'"
)


def _rollout_props(dsn: str, image: str, job: str, **overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "connection": dsn,
        "environment": "staging",
        "model_name": MODEL,
        "owner_stack": OWNER,
        "stack": "staging",
        "target_image": image,
        "target_revision": REVISION,
        "target_smoke_job": job,
        "deadline_seconds": 3600.0,  # numbers reach the provider as floats
        "note": None,
        **overrides,
    }
    return props


def _rollout(method: str, fresh: bool = False, **request: Any) -> dict[str, Any]:
    if not fresh:
        result: dict[str, Any] = call(
            method, f"staging/{MODEL}", RegistryRolloutProvider(), **request
        )
        return result
    result = engine(
        {"method": method, "id": f"staging/{MODEL}", **request},
        fresh=fresh,
        provider=RegistryRolloutProvider(),
    )
    assert "error" not in result, result
    return result


def _entry(method: str, **request: Any) -> dict[str, Any]:
    result: dict[str, Any] = call(method, f"staging/{MODEL}", **request)
    return result


def _row(dsn: str) -> RegistryRow:
    return row_of(dsn, "staging", MODEL)


def _actions(dsn: str) -> list[str]:
    return [str(a) for (a,) in rows(dsn, "SELECT action FROM model_registry_events ORDER BY id")]


def test_create_update_passing_update_failing_and_rollback(migrated_db: str) -> None:
    dsn = migrated_db
    # --- create: no row yet, so the marker writes nothing; the entry registers after the smoke.
    r1 = _rollout("create", fresh=True, props=_rollout_props(dsn, V1, JOB1))
    # Every output the resource declares comes back from the provider (what the program reads).
    declared = set(RegistryRollout.__annotations__)
    assert declared == {"rollout_id", "health_status"} and declared <= set(r1["outs"])
    assert rows(dsn, "SELECT count(*) FROM model_registry_entries") == [(0,)]
    e1 = _entry(
        "create",
        props=entry_props(dsn, image=V1, smoke_evidence=JOB1, rollout=r1["outs"]["rollout_id"]),
    )
    row = _row(dsn)
    assert (row.health_status, row.image, row.smoke_job) == ("healthy", V1, JOB1)
    assert rows(dsn, ROUTABLE) == [(V1,)]

    # --- update passing: rolling_out (old image still recorded) until the new Job passed.
    r2 = _rollout("update", olds=r1["outs"], news=_rollout_props(dsn, V2, JOB2))
    row = _row(dsn)
    assert (row.health_status, row.image, row.smoke_job) == ("rolling_out", V1, JOB1)
    assert (row.target_image, row.target_revision, row.target_smoke_job) == (V2, REVISION, JOB2)
    assert row.rollout_deadline_at is not None and row.rollout_started_at is not None
    assert (row.rollout_deadline_at - row.rollout_started_at).total_seconds() == 3600
    assert rows(dsn, ROUTABLE) == []  # never healthy while untested pods may answer
    news2 = entry_props(dsn, image=V2, smoke_evidence=JOB2, rollout=r2["outs"]["rollout_id"])
    e2 = _entry("update", olds=e1["outs"], news=news2)
    row = _row(dsn)
    assert (row.health_status, row.image, row.smoke_job) == ("healthy", V2, JOB2)
    assert (row.target_image, row.target_smoke_job, row.rollout_deadline_at) == (None, None, None)
    assert e2["outs"]["health_status"] == "healthy"

    # --- update failing: the marker runs, the smoke Job fails, the entry is never called.
    r3 = _rollout("update", olds=r2["outs"], news=_rollout_props(dsn, V3, JOB3))
    row = _row(dsn)
    assert (row.health_status, row.image, row.smoke_job) == ("rolling_out", V2, JOB2)
    assert (row.target_image, row.target_smoke_job) == (V3, JOB3)
    # A registration without the rollout's own evidence (an old Job) records no V3 and no health.
    with connect(dsn, autocommit=True) as conn:
        store.register(conn, EntrySpec(**{**_spec(news2), "image": V3}), evidence=JOB2)
    assert (_row(dsn).health_status, _row(dsn).image) == ("rolling_out", V2)
    # The deadline passes (the update's timeouts ran out): the rule marks it failed, once.
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "UPDATE model_registry_entries SET rollout_deadline_at = now() - interval '1 second'"
        )
    with connect(dsn, autocommit=True) as conn:
        assert rollouts.expire_rollouts(conn, "staging") == 1
        assert rollouts.expire_rollouts(conn, "staging") == 0
    row = _row(dsn)
    assert (row.health_status, row.image, row.target_image) == ("rollout_failed", V2, V3)
    assert rows(dsn, ROUTABLE) == []

    # --- rollback to V2: the marker starts a rollout back; the entry (whose state is still
    # e2: the failed update never reached it) settles it because the rollout id changed.
    r4 = _rollout(
        "update", olds=r3["outs"], news=_rollout_props(dsn, V2, JOB2, note="rollback to 7")
    )
    assert _row(dsn).health_status == "rolling_out"
    news4 = entry_props(
        dsn,
        image=V2,
        smoke_evidence=JOB2,
        rollout=r4["outs"]["rollout_id"],
        change_kind="rollback",
        note="rollback to stack version 7",
    )
    assert diff_entry(e2["outs"], news4).changes is True
    _entry("update", olds=e2["outs"], news=news4)
    row = _row(dsn)
    assert (row.health_status, row.image, row.model_revision) == ("healthy", V2, REVISION)
    assert (row.smoke_job, row.target_image) == (JOB2, None)
    assert rows(dsn, ROUTABLE) == [(V2,)]
    assert _actions(dsn) == [
        "registered",
        "rollout_started",
        "updated",
        "rollout_started",
        "rollout_failed",
        "rollout_started",
        "rolled_back",
    ]


def _spec(props: dict[str, Any]) -> dict[str, Any]:
    values = {k: props[k] for k in SPEC_FIELDS}
    return {
        **values,
        **{k: int(values[k]) for k in ("max_model_len", "gpus_per_replica", "replicas")},
    }


def test_connection_only_changes_and_unchanged_targets_write_nothing(migrated_db: str) -> None:
    dsn = migrated_db
    provider = RegistryRolloutProvider()
    created = provider.create(_rollout_props(dsn, V1, JOB1))
    RegistryEntryProvider().create(entry_props(dsn, smoke_evidence=JOB1))
    before = _actions(dsn)
    assert created.outs is not None

    moved = _rollout_props(dsn + " application_name=rotated", V1, JOB1, deadline_seconds=60.0)
    assert provider.diff(created.id, created.outs, moved).changes is True
    updated = provider.update(created.id, created.outs, moved)
    # A new marker on a row whose recorded evidence is the target (e.g. the first `up` after
    # this resource was added) starts nothing either.
    again = provider.create(_rollout_props(dsn, V1, JOB1))

    assert _actions(dsn) == before == ["registered"]
    assert updated.outs is not None and updated.outs["rollout_id"] == created.outs["rollout_id"]
    assert again.outs is not None and _row(dsn).health_status == "healthy"


def test_only_the_owner_may_start_a_rollout(migrated_db: str) -> None:
    dsn = migrated_db
    RegistryEntryProvider().create(entry_props(dsn, smoke_evidence=JOB1))
    other = _rollout_props(dsn, V2, JOB2, owner_stack="vllm-platform/production")

    with pytest.raises(OwnershipError, match="belongs to vllm-platform/staging"):
        RegistryRolloutProvider().create(other)
    assert _row(dsn).health_status == "healthy"


def test_the_health_reporter_fails_overdue_rollouts_and_never_calls_them_healthy(
    db: str, make_role: Any, tmp_path: Any
) -> None:
    from tests.integration.reporter_harness import FIRST, HEALTHY, SICK, make_harness

    h = make_harness(db, make_role, tmp_path)
    with psycopg.connect(db) as conn:
        for name, deadline in (
            (HEALTHY, "now() - interval '1 minute'"),
            (SICK, "now() + interval '1 hour'"),
        ):
            conn.execute(
                "UPDATE model_registry_entries SET health_status = 'rolling_out', "
                "target_image = 'vllm/vllm-openai:v0.12.0', target_revision = 'main', "
                f"target_smoke_job = 'x-smoke-1', rollout_started_at = now(), "
                f"rollout_deadline_at = {deadline} "
                "WHERE environment = 'staging' AND model_name = %s",
                (name,),
            )

    result = h.run({**FIRST, SICK: "ok"})  # both answer /health

    assert result.returncode == 0, result.stdout + result.stderr
    assert h.entry(HEALTHY)[0] == "rollout_failed"  # past its deadline
    assert h.entry(SICK)[0] == "rolling_out"  # a passing probe is no smoke test
    assert [e[0] for e in h.events(HEALTHY)] == ["rollout_failed"]
    assert h.events(SICK) == []


def test_ops_registry_shows_the_rollout_and_expires_it(
    migrated_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from ops.registry_cli import main

    dsn = migrated_db
    RegistryEntryProvider().create(entry_props(dsn, smoke_evidence=JOB1))
    target = rollouts.RolloutTarget(V2, REVISION, JOB2, deadline_seconds=1)
    with connect(dsn, autocommit=True) as conn:
        rollouts.begin_rollout(conn, "staging", MODEL, target, owner=OWNER, stack="staging")

    assert main(["registry", "list", "--dsn", dsn]) == 0
    line = capsys.readouterr().out.splitlines()[2].split()
    base, health, _, _, image, target_image = line[2:8]
    assert base == "-"  # the model's own row, not an adapter's
    assert (health, image, target_image) == ("rolling_out", V1, V2)

    with psycopg.connect(dsn) as conn:
        conn.execute(
            "UPDATE model_registry_entries SET rollout_deadline_at = now() - interval '1s'"
        )
    assert main(["registry", "expire-rollouts", "--dsn", dsn, "--environment", "staging"]) == 0
    assert capsys.readouterr().out.startswith("1 rollout(s) past their deadline")
    assert _row(dsn).health_status == "rollout_failed"


def test_ops_deploy_marks_the_stacks_rollouts_failed_before_rolling_back(
    migrated_db: str, tmp_path: Any
) -> None:
    from tests.unit.ops.test_deploy import SMOKE_FAILED, FakeCli, run

    dsn = migrated_db
    owner = "vllm-platform/production"
    target = rollouts.RolloutTarget(V2, REVISION, JOB2, deadline_seconds=3600)
    with connect(dsn, autocommit=True) as conn:
        for env, name in (("production", MODEL), ("production", "other"), ("staging", MODEL)):
            stack = env if env == "staging" else "production"
            store.register(
                conn,
                EntrySpec(**{**_spec(entry_props(dsn)), "environment": env,
                                   "model_name": name, "stack": stack}),
                owner=f"vllm-platform/{stack}",
                evidence=JOB1,
            )  # fmt: skip
            rollouts.begin_rollout(
                conn, env, name, target, owner=f"vllm-platform/{stack}", stack=stack
            )

    rc, out = run(FakeCli(tmp_path, fail_up=SMOKE_FAILED), tmp_path, registry_dsn=dsn)

    assert rc == 1
    assert f"Registry: marked rollout_failed: production/{MODEL}, production/other" in out
    assert out.index("Registry: marked") < out.index("failed; rolling back to version 6")
    states = rows(
        dsn, "SELECT environment, owner_stack, health_status FROM model_registry_entries"
        " ORDER BY environment, model_name",
    )  # fmt: skip
    assert states == [
        ("production", owner, "rollout_failed"),
        ("production", owner, "rollout_failed"),
        ("staging", "vllm-platform/staging", "rolling_out"),  # another stack's rollout
    ]
    [(note,)] = rows(
        dsn, "SELECT note FROM model_registry_events WHERE action = 'rollout_failed' LIMIT 1"
    )
    assert "pulumi up failed" in note and "smoke test FAILED" in note


def test_retiring_during_a_rollout_ends_it(migrated_db: str) -> None:
    dsn = migrated_db
    created = RegistryEntryProvider().create(entry_props(dsn, smoke_evidence=JOB1))
    assert created.outs is not None
    target = rollouts.RolloutTarget(V2, REVISION, JOB2, deadline_seconds=60)
    with connect(dsn, autocommit=True) as conn:
        rollouts.begin_rollout(conn, "staging", MODEL, target, owner=OWNER, stack="staging")

    RegistryEntryProvider().delete(created.id, created.outs)

    row = _row(dsn)
    assert (row.health_status, row.target_image, row.rollout_deadline_at) == ("retired", None, None)
    with connect(dsn, autocommit=True) as conn:  # a retired row starts no rollout
        assert rollouts.begin_rollout(
            conn, "staging", MODEL, target, owner=OWNER, stack="staging"
        ) == Outcome(row, None)


def test_the_first_up_after_the_upgrade_starts_no_rollout_for_an_unchanged_model(
    migrated_db: str,
) -> None:
    from ops.deploy import mark_failed_rollouts

    dsn = migrated_db
    created = RegistryEntryProvider().create(entry_props(dsn, smoke_evidence=JOB1))
    assert created.outs is not None
    with psycopg.connect(dsn) as conn:  # a row written before migration 0005
        conn.execute("UPDATE model_registry_entries SET smoke_job = NULL")
    olds = {k: v for k, v in created.outs.items() if k != "rollout"}  # state before `rollout`

    # Nothing in the config changed: the marker records the evidence instead of a rollout,
    marker = _rollout("create", props=_rollout_props(dsn, V1, JOB1))
    row = _row(dsn)
    assert (row.health_status, row.smoke_job, row.target_image) == ("healthy", JOB1, None)
    assert marker["outs"]["rollout_id"] == JOB1  # no rollout started
    # so a failure elsewhere in that `up` leaves the model routed.
    assert mark_failed_rollouts(dsn, "staging", "boom").endswith(
        "no rollout of this stack was under way"
    )
    assert rows(dsn, ROUTABLE) == [(V1,)]
    _entry(
        "update",
        olds=olds,
        news=entry_props(dsn, smoke_evidence=JOB1, rollout=marker["outs"]["rollout_id"]),
    )
    row = _row(dsn)
    assert (row.health_status, row.image, row.smoke_job) == ("healthy", V1, JOB1)
    assert _actions(dsn) == ["registered", "updated"]


def test_the_first_up_after_the_upgrade_rolls_out_a_changed_model(migrated_db: str) -> None:
    dsn = migrated_db
    created = RegistryEntryProvider().create(entry_props(dsn, smoke_evidence=JOB1))
    assert created.outs is not None
    with psycopg.connect(dsn) as conn:  # rows written before migration 0005
        conn.execute("UPDATE model_registry_entries SET smoke_job = NULL")
    olds = {k: v for k, v in created.outs.items() if k != "rollout"}

    marker = _rollout("create", props=_rollout_props(dsn, V2, JOB2))  # a new image
    assert _row(dsn).health_status == "rolling_out"
    _entry(
        "update",
        olds=olds,
        news=entry_props(dsn, image=V2, smoke_evidence=JOB2, rollout=marker["outs"]["rollout_id"]),
    )
    row = _row(dsn)
    assert (row.health_status, row.image, row.smoke_job) == ("healthy", V2, JOB2)

    # A row not known healthy (unknown) gets no evidence and no rollout for its own image.
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "UPDATE model_registry_entries SET smoke_job = NULL, health_status = 'unknown'"
        )
    before = _actions(dsn)
    _rollout("create", props=_rollout_props(dsn, V2, JOB2))
    row = _row(dsn)
    assert (row.health_status, row.smoke_job, _actions(dsn)) == ("unknown", None, before)


@pytest.mark.parametrize("stack", ["organization/staging", "organization/vllm-platform/staging"])
def test_ops_deploy_marks_rollouts_of_a_qualified_stack_name(migrated_db: str, stack: str) -> None:
    from ops.deploy import mark_failed_rollouts

    dsn = migrated_db
    RegistryEntryProvider().create(entry_props(dsn, smoke_evidence=JOB1))
    target = rollouts.RolloutTarget(V2, REVISION, JOB2, deadline_seconds=3600)
    with connect(dsn, autocommit=True) as conn:
        rollouts.begin_rollout(conn, "staging", MODEL, target, owner=OWNER, stack="staging")

    assert mark_failed_rollouts(dsn, stack, "boom") == f"marked rollout_failed: staging/{MODEL}"
    assert _row(dsn).health_status == "rollout_failed"


def test_the_reporter_records_probes_of_a_rolling_out_row_without_changing_its_status(
    migrated_db: str,
) -> None:
    from tests.integration.helpers import report_sql

    dsn = migrated_db
    RegistryEntryProvider().create(entry_props(dsn, smoke_evidence=JOB1))
    target = rollouts.RolloutTarget(V2, REVISION, JOB2, deadline_seconds=3600)
    with connect(dsn, autocommit=True) as conn:
        rollouts.begin_rollout(conn, "staging", MODEL, target, owner=OWNER, stack="staging")
    before = _actions(dsn)
    probe = {"env": "staging", "owner": OWNER, "name": MODEL, "threshold": "3"}

    for _ in range(5):  # a crash-looping rollout: every probe fails
        out = report_sql(dsn, **probe, status="unhealthy", disable_routing="true")
    row = _row(dsn)
    assert (row.health_status, row.routing_enabled, row.consecutive_failures) == (
        "rolling_out",
        True,
        5,
    )
    assert row.last_health_check_at is not None
    assert out.strip() == "unchanged, rolling out, failed probe 5 in a row"
    checked = row.last_health_check_at

    report_sql(dsn, **probe, status="healthy", disable_routing="true")
    row = _row(dsn)
    assert (row.health_status, row.consecutive_failures) == ("rolling_out", 0)
    assert row.last_health_check_at is not None and row.last_health_check_at > checked
    assert _actions(dsn) == before  # no status change, no event
