"""A rollback (and a later deploy) after a failed smoke test, in the engine's step order.

An image bump gives the smoke Job a new name (it hashes what is served), so the provider
would replace it create-first: the new Job is created, fails its await, the update is
cancelled, and the old Job's pending delete never runs (post-steps only follow an update
whose steps all succeeded). A rollback then registers the old name again; a create-first
replacement would ``Create`` it while the old Job is still alive: ``AlreadyExists``. The real
program's registrations are run through ``tests.support.engine_steps`` (the engine and
provider rules, cited there and in docs/provider-semantics.md).
"""

from __future__ import annotations

import copy
import functools

import pytest
from pulumi.runtime import rpc

from components.registry.providers import RegistryEntryProvider
from tests.support.engine_steps import Cluster, Goal, UpdateFailedError, goals_of, run_update
from tests.support.harness import run_program, stack_file_config

pytestmark = pytest.mark.program

DIGEST_V2 = "sha256:" + "2" * 64
DIGEST_V3 = "sha256:" + "3" * 64


@functools.cache
def _goals(stack: str, digest: str | None = None) -> list[Goal]:
    """The stack's Kubernetes objects, with the first model's image at another digest."""
    models = copy.deepcopy(stack_file_config(stack)["vllm-platform:models"])
    if digest is not None:
        repo = str(models[0]["image"]).split("@", 1)[0]
        models[0]["image"] = f"{repo}@{digest}"
    return goals_of(run_program(stack, overrides={"models": models}).resources)


def _jobs(goals: list[Goal]) -> list[str]:
    return sorted(g.name for g in goals if g.kind == "Job")


@pytest.mark.parametrize("stack", ["development", "production"])
def test_rollback_and_a_later_deploy_after_a_failed_smoke_test_need_no_manual_step(
    stack: str,
) -> None:
    v1, v2, v3 = _goals(stack), _goals(stack, DIGEST_V2), _goals(stack, DIGEST_V3)
    [new_job] = set(_jobs(v2)) - set(_jobs(v1))
    cluster = Cluster(failing={new_job})

    deployed = run_update([], v1, cluster)
    with pytest.raises(UpdateFailedError) as failed:
        run_update(deployed, v2, cluster)
    # The failed update is cancelled after the new Job's await failed.
    assert new_job in cluster.names("Job")

    rolled_back = run_update(failed.value.state, v1, cluster)  # no AlreadyExists
    assert cluster.names("Job") == _jobs(v1)
    assert not [e for e in rolled_back if e.delete or e.failed]

    run_update(rolled_back, v3, Cluster(live=dict(cluster.live)))


@pytest.mark.parametrize("stack", ["development"])
def test_the_same_change_deployed_again_after_a_failed_smoke_test_runs_the_test_again(
    stack: str,
) -> None:
    v1, v2 = _goals(stack), _goals(stack, DIGEST_V2)
    [new_job] = set(_jobs(v2)) - set(_jobs(v1))
    cluster = Cluster(failing={new_job})
    deployed = run_update([], v1, cluster)
    with pytest.raises(UpdateFailedError) as failed:
        run_update(deployed, v2, cluster)

    cluster.failing.clear()  # e.g. the model's files were fixed upstream
    before = len(cluster.log)
    settled = run_update(failed.value.state, v2, cluster)
    assert f"create Job/{new_job}" in cluster.log[before:]  # replaceUnready: a fresh run
    assert cluster.names("Job") == _jobs(v2)
    assert not [e for e in settled if e.delete or e.failed]


def test_deleting_the_smoke_job_first_never_replaces_a_registry_entry() -> None:
    """Delete-before-replace deletes, before the Job, every dependent whose provider says it
    would be replaced once the Job's outputs are unknown (step_generator.go:3268-3400). The
    entries read the Job's name and status; their diff must not ask for a replacement (it
    would retire the row the router reads)."""
    run = run_program("development")
    jobs = {r.urn for r in run.resources if r.typ == "kubernetes:batch/v1:Job"}
    dependents = [
        r for r in run.resources if any(set(v) & jobs for v in r.property_dependencies.values())
    ]
    assert {r.typ for r in dependents} == {"pulumi-python:dynamic/registry:RegistryEntry"}
    for r in dependents:
        news = dict(r.inputs)
        for key, urns in r.property_dependencies.items():
            if set(urns) & jobs:
                news[key] = rpc.UNKNOWN
        diff = RegistryEntryProvider().diff(f"{r.name}-id", dict(r.inputs), news)
        assert not diff.replaces, (r.name, diff.replaces)
