"""A change that takes every replica down says ``rolling_out`` first, then settles.

A new weight cache size or class is in the StatefulSet's ``volumeClaimTemplates``, which the
provider cannot update: it replaces the StatefulSet, delete-first (same name), so every
replica goes down and downloads its weights again (docs/provider-semantics.md). The pod
template does not change. The program's two registrations (the committed staging stack, and
the same with a larger cache) drive the registry's providers as the engine would: the
``RegistryRollout`` update only when its diff reports a change, then the entry once the smoke
Job passed.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.registry.providers import RegistryRolloutProvider
from components.registry.providers.rollout import diff_rollout
from components.registry.rows import RegistryRow
from tests.integration.helpers import call, entry_props, row_of
from tests.support.harness import ProgramRun, run_program, stack_file_config

pytestmark = pytest.mark.integration

MODEL = "llama-3-1-8b-instruct"


def _run(**cache: Any) -> ProgramRun:
    models = copy.deepcopy(stack_file_config("staging")["vllm-platform:models"])
    if cache:
        models[0]["weightCache"] = cache
    return run_program("staging", overrides={"models": models})


def _inputs(run: ProgramRun, typ: str) -> dict[str, Any]:
    return next(r for r in run.by_type(typ) if r.name.startswith(MODEL)).inputs


def _marker(run: ProgramRun, dsn: str) -> dict[str, Any]:
    inputs = _inputs(run, "pulumi-python:dynamic/registry:RegistryRollout")
    props = {k: v for k, v in inputs.items() if k not in ("__provider", "rollout_id")}
    props.update(connection=dsn, stack="staging", owner_stack="vllm-platform/staging")
    props["deadline_seconds"] = float(props["deadline_seconds"])
    return props


def _call(method: str, provider: Any = None, **request: Any) -> dict[str, Any]:
    result: dict[str, Any] = call(method, f"staging/{MODEL}", provider, **request)
    return result


def _row(dsn: str) -> RegistryRow:
    return row_of(dsn, "staging", MODEL)


@pytest.mark.parametrize(
    "cache", [{"sizeGi": 80}, {"storageClass": "linode-block-storage"}], ids=["size", "class"]
)
def test_a_new_weight_cache_marks_the_row_rolling_out_before_the_replicas_go_down(
    migrated_db: str, cache: dict[str, Any]
) -> None:
    dsn = migrated_db
    before, after = _run(), _run(**cache)
    sts = "kubernetes:apps/v1:StatefulSet"
    assert (
        _inputs(before, sts)["spec"]["volumeClaimTemplates"]
        != _inputs(after, sts)["spec"]["volumeClaimTemplates"]
    )
    assert _inputs(before, sts)["spec"]["template"] == _inputs(after, sts)["spec"]["template"]

    rollouts = RegistryRolloutProvider()
    old = _marker(before, dsn)
    r1 = _call("create", rollouts, props=old)
    e1 = _call(
        "create",
        props=entry_props(
            dsn, smoke_evidence=old["target_smoke_job"], rollout=r1["outs"]["rollout_id"]
        ),
    )
    assert _row(dsn).health_status == "healthy"

    new = _marker(after, dsn)
    outs = r1["outs"]
    if diff_rollout(outs, new).changes:  # the engine updates it only when its diff says so
        outs = _call("update", rollouts, olds=outs, news=new)["outs"]
    row = _row(dsn)
    assert row.health_status == "rolling_out"  # before the StatefulSet is replaced
    assert row.target_smoke_job == new["target_smoke_job"]

    # The replacement done and its smoke Job passed: the entry settles the row.
    news = entry_props(dsn, smoke_evidence=new["target_smoke_job"], rollout=outs["rollout_id"])
    _call("update", olds=e1["outs"], news=news)
    assert (_row(dsn).health_status, _row(dsn).smoke_job) == ("healthy", new["target_smoke_job"])
