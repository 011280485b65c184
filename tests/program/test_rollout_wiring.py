"""Each model's RegistryRollout is registered before its workload, which depends on it, and
names the smoke Job, image and revision that workload's update will serve."""

from __future__ import annotations

import pytest

from components.planning.release import ROLLBACK_ENV
from tests.support.harness import ProgramRun, Registered, run_program
from tests.support.stackfiles import STACKS

pytestmark = pytest.mark.program

ROLLOUT = "pulumi-python:dynamic/registry:RegistryRollout"
ENTRY = "pulumi-python:dynamic/registry:RegistryEntry"
WORKLOADS = ("kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:Deployment")
JOB = "kubernetes:batch/v1:Job"


def _by_model(run: ProgramRun, typ: str) -> dict[str, Registered]:
    found: dict[str, Registered] = {}
    for r in run.by_type(typ):
        labels = r.inputs.get("metadata", {}).get("labels", {})
        found[labels.get("app.kubernetes.io/name") or r.inputs["model_name"]] = r
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_the_rollout_marker_comes_before_and_gates_each_models_workload(stack: str) -> None:
    run = run_program(stack)
    order = {r.urn: i for i, r in enumerate(run.resources)}
    markers = _by_model(run, ROLLOUT)
    workloads = {k: v for typ in WORKLOADS for k, v in _by_model(run, typ).items() if v.custom}
    workloads = {k: v for k, v in workloads.items() if "VllmDeployment" in v.urn}
    jobs = _by_model(run, JOB)
    entries = _by_model(run, ENTRY)
    assert set(markers) == set(workloads) == set(entries) == set(run.outputs["endpoints"])
    for model, marker in markers.items():
        workload = workloads[model]
        assert order[marker.urn] < order[workload.urn]
        assert marker.urn in workload.dependencies
        # The entry learns of every rollout the marker started (it settles the row).
        assert marker.urn in entries[model].property_dependencies["rollout"]
        [container] = [
            c
            for c in workload.inputs["spec"]["template"]["spec"]["containers"]
            if c["name"] == "vllm"
        ]
        assert marker.inputs["target_image"] == container["image"]
        assert marker.inputs["target_smoke_job"] == jobs[model].k8s_name
        assert marker.inputs["target_revision"] in container["args"]
        assert marker.inputs["deadline_seconds"] > 600
        assert "connection" in marker.secret_inputs
        assert marker.inputs["owner_stack"] == f"vllm-platform/{stack}"


def test_a_rollback_run_annotates_the_rollout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ROLLBACK_ENV, "7")
    run = run_program("staging")
    for marker in run.by_type(ROLLOUT):
        assert marker.inputs["note"] == "rollback to stack version 7"
