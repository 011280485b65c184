"""The pre-puller's rollout comes before the workloads': an image bump pulls on every GPU node
first, so the new pods (and a later rollback's) start from a local image.

Without an ordering the engine registers the pre-puller's DaemonSet and the workloads side by
side: the new pods pull the image themselves while the DaemonSet does too (docs/time-to-ready.md,
"The image on the node"). ``depends_on`` makes the SDK send a workload's registration only once
the DaemonSet's step (its await included) is done (docs/provider-semantics.md, "Engine").
"""

from __future__ import annotations

import pytest

from tests.support.harness import committed_run, run_program
from tests.support.stackfiles import STACKS

pytestmark = pytest.mark.program

WORKLOADS = ("kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:Deployment")


@pytest.mark.parametrize("stack", STACKS)
def test_every_workload_waits_for_the_prepuller(stack: str) -> None:
    run = committed_run(stack)
    [prepuller] = [
        r for r in run.by_type("kubernetes:apps/v1:DaemonSet") if "ImagePrePuller" in r.urn
    ]
    workloads = [r for typ in WORKLOADS for r in run.by_type(typ)]
    assert workloads
    for w in workloads:
        assert prepuller.urn in w.dependencies, w.name


def test_without_the_prepuller_the_workloads_wait_for_nothing_more() -> None:
    run = run_program("development", overrides={"timing": {"prePullImages": False}})
    assert not [r for r in run.resources if "ImagePrePuller" in r.urn]
    assert run.by_type("kubernetes:apps/v1:StatefulSet")


def _minutes(timeout: str) -> int:
    return int(timeout.removesuffix("m"))


@pytest.mark.parametrize("stack", STACKS)
def test_the_rollout_deadline_covers_the_prepull_before_the_workload(stack: str) -> None:
    """The marker starts its deadline before the pre-pull the workload now waits for."""
    run = committed_run(stack)
    [prepuller] = [
        r for r in run.by_type("kubernetes:apps/v1:DaemonSet") if "ImagePrePuller" in r.urn
    ]
    pull = _minutes(prepuller.custom_timeouts["update"])
    jobs = {r.inputs["metadata"]["name"]: r for r in run.by_type("kubernetes:batch/v1:Job")}
    for marker in run.by_type("pulumi-python:dynamic/registry:RegistryRollout"):
        model = marker.inputs["model_name"]
        names = {f"{model}-statefulset", f"{model}-deployment"}
        [workload] = [r for typ in WORKLOADS for r in run.by_type(typ) if r.name in names]
        job = jobs[marker.inputs["target_smoke_job"]]
        need = pull + _minutes(workload.custom_timeouts["update"])
        need += _minutes(job.custom_timeouts["update"])
        assert marker.inputs["deadline_seconds"] >= need * 60, model
