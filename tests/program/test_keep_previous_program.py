"""The program with ``rollout.keepPrevious`` and ``rollout.previous`` (#27): the kept revision's
workload registered beside the served one, the Services flipping only once the served one is
ready, the registry's rollback target named after the entry, and a rollback to the kept revision
that registers its workload exactly as it is (nothing restarts)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.harness import ProgramRun, Registered, run_program, stack_file_config

pytestmark = pytest.mark.program

MODEL = "llama-3-1-8b-instruct"
IMAGE = "vllm/vllm-openai:v0.32.0"
SERVED = "0e9e39f249a16976918f6564b8830bc894c89659"
OLD = "5206a32e0bd3067aef1ce90f5528ade7d866253f"
STS = "kubernetes:apps/v1:StatefulSet"
PREVIOUS = "pulumi-python:dynamic/registry:RegistryPrevious"
ENTRY = "pulumi-python:dynamic/registry:RegistryEntry"


def _run(revision: str = SERVED, rollout: dict[str, Any] | None = None) -> ProgramRun:
    config = stack_file_config("production")
    models = [dict(m) for m in config["vllm-platform:models"]]
    models[1].update({"revision": revision, "rollout": rollout or {"keepPrevious": 30}})
    cluster = dict(config["vllm-platform:cluster"])
    cluster["gpuPool"] = {**cluster["gpuPool"], "autoscaler": {"min": 4, "max": 11}}
    return run_program("production", overrides={"models": models, "cluster": cluster})


def _kept(until: str = "2999-01-01T00:00:00Z") -> dict[str, Any]:
    return {"keepPrevious": 30, "previous": {"image": IMAGE, "revision": OLD, "until": until}}


def _workloads(run: ProgramRun) -> dict[str, Registered]:
    """The model's StatefulSets by the revision their server serves."""
    out: dict[str, Registered] = {}
    for r in run.by_type(STS):
        if r.inputs["metadata"]["labels"]["app.kubernetes.io/name"] != MODEL:
            continue
        [c] = [c for c in r.inputs["spec"]["template"]["spec"]["containers"] if c["name"] == "vllm"]
        out[c["args"][c["args"].index("--revision") + 1]] = r
    return out


def test_the_kept_revision_serves_beside_the_new_one_and_is_the_rollback_target() -> None:
    run = _run(rollout=_kept())
    workloads = _workloads(run)
    assert set(workloads) == {SERVED, OLD}
    served, kept = workloads[SERVED], workloads[OLD]
    for name in (MODEL, f"{MODEL}-pods"):
        service = run.one("kubernetes:core/v1:Service", f"{MODEL}-service{name[len(MODEL) :]}")
        # The selector flips to the new revision only once its workload is ready.
        assert served.urn in service.dependencies and kept.urn not in service.dependencies
    target = run.one(PREVIOUS)
    entry = run.one(ENTRY, f"{MODEL}-registry")
    assert target.inputs["image"] == IMAGE and target.inputs["revision"] == OLD
    assert target.inputs["deployment_name"] == kept.k8s_name
    assert target.inputs["until"] == "2999-01-01T00:00:00Z"
    assert entry.urn in target.dependencies  # named once the entry settled the row
    assert "connection" in target.secret_inputs


def test_a_rollback_to_the_kept_revision_registers_its_workload_unchanged() -> None:
    then = _workloads(_run(revision=OLD))[OLD]  # before the rollout: OLD served
    kept = _workloads(_run(rollout=_kept()))[OLD]  # during the window: OLD kept
    # The same URN with the same inputs: the engine sees no change, no pod restarts, and the
    # smoke Job that passed for it is the one the registry names as the target's evidence.
    assert (kept.urn, kept.inputs) == (then.urn, then.inputs)
    job = _run(revision=OLD).one("kubernetes:batch/v1:Job", f"{MODEL}-job-smoke")
    assert _run(rollout=_kept()).one(PREVIOUS).inputs["smoke_job"] == job.k8s_name


def test_after_the_window_the_kept_workload_and_the_target_go() -> None:
    run = _run(rollout=_kept(until="2000-01-01T00:00:00Z"))
    assert set(_workloads(run)) == {SERVED}
    assert run.by_type(PREVIOUS) == []


def test_two_runs_register_the_same_thing() -> None:
    first, second = _run(rollout=_kept()), _run(rollout=_kept())
    assert {r.urn: r.inputs for r in first.kubernetes()} == {
        r.urn: r.inputs for r in second.kubernetes()
    }
