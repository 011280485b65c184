"""``rollout.keepPrevious`` with ``rollout.previous``: the kept revision's workload beside the
served one, the Services selecting only the served revision, and a rollback to the kept one
that renders it unchanged (blue/green, #27)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import kubernetes_validate
import pytest

from components.config import ConfigError
from components.contract import REVISION_LABEL
from components.manifests.vllm.render import kept_names, kept_workload, model_objects
from components.manifests.vllm.smoke import smoke_targets
from components.manifests.vllm.workload import workload
from tests.unit.manifests.vllm.support import (
    AFTER,
    BEFORE,
    IMAGE,
    MODEL,
    OLD_REVISION,
    SERVED_REVISION,
    UNTIL,
    keep_previous_objects,
    kept_rollout,
    stack,
)

_kept = kept_rollout
_objects = keep_previous_objects


def _workloads(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] in ("StatefulSet", "Deployment")]


def _revision(obj: dict[str, Any]) -> str:
    [server] = [c for c in obj["spec"]["template"]["spec"]["containers"] if c["name"] == "vllm"]
    return str(server["args"][server["args"].index("--revision") + 1])


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_the_kept_revision_runs_beside_the_served_one_under_its_own_name() -> None:
    kept, served = _workloads(_objects())
    assert (_revision(kept), _revision(served)) == (OLD_REVISION, SERVED_REVISION)
    name = "llama-3-1-8b-instruct"
    for w in (kept, served):
        slug = w["spec"]["template"]["metadata"]["labels"][REVISION_LABEL]
        assert w["metadata"]["name"] == f"{name}-{slug}"
        # Each workload selects its own pods only (a selector is immutable: the name is new).
        assert _matches(
            w["spec"]["selector"]["matchLabels"], w["spec"]["template"]["metadata"]["labels"]
        )
    assert not _matches(
        served["spec"]["selector"]["matchLabels"], kept["spec"]["template"]["metadata"]["labels"]
    )


def test_the_services_select_the_served_revision_and_the_policies_both() -> None:
    objs = _objects()
    kept, served = _workloads(objs)
    kept_pods = kept["spec"]["template"]["metadata"]["labels"]
    served_pods = served["spec"]["template"]["metadata"]["labels"]
    services = [o for o in objs if o["kind"] == "Service"]
    assert len(services) == 2
    for svc in services:  # the endpoint and the smoke test's per-pod DNS
        assert _matches(svc["spec"]["selector"], served_pods)
        assert not _matches(svc["spec"]["selector"], kept_pods)
    [server_policy] = [
        o
        for o in objs
        if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "llama-3-1-8b-instruct"
    ]
    [budget] = [o for o in objs if o["kind"] == "PodDisruptionBudget"]
    assert _matches(budget["spec"]["selector"]["matchLabels"], kept_pods)
    selector = server_policy["spec"]["podSelector"]["matchLabels"]
    assert _matches(selector, kept_pods) and _matches(selector, served_pods)


def test_the_smoke_test_and_the_autoscaler_target_the_served_workload() -> None:
    cfg, m, plan = stack(model=MODEL, max_nodes=11, rollout=_kept())
    _, served = _workloads(model_objects(cfg, m, plan, BEFORE))
    assert all(t.startswith(f"{served['metadata']['name']}-") for t in smoke_targets(cfg, m))


def test_the_kept_workload_is_exactly_what_was_served_so_a_rollback_restarts_nothing() -> None:
    # The config before the rollout served OLD_REVISION (with keepPrevious already on): its
    # workload is the kept one now, field for field; rolling back renders it once more.
    cfg_then, m_then, plan_then = stack(
        model=MODEL, max_nodes=11, revision=OLD_REVISION, rollout={"keepPrevious": 30}
    )
    cfg, m, plan = stack(model=MODEL, max_nodes=11, rollout=_kept())
    assert kept_workload(cfg, m, plan, BEFORE) == workload(cfg_then, m_then, plan_then)
    names = kept_names(cfg, m, plan, BEFORE)
    then_job = [o for o in model_objects(cfg_then, m_then, plan_then) if o["kind"] == "Job"]
    assert names == (
        workload(cfg_then, m_then, plan_then)["metadata"]["name"],
        then_job[0]["metadata"]["name"],
    )


def test_after_the_window_the_kept_workload_is_gone() -> None:
    assert len(_workloads(_objects(AFTER))) == 1
    cfg, m, plan = stack(model=MODEL, max_nodes=11, rollout=_kept())
    assert kept_names(cfg, m, plan, AFTER) is None


def test_without_keep_previous_nothing_is_named_or_labelled_by_revision() -> None:
    cfg, m, plan = stack(model=MODEL)
    objs = model_objects(cfg, m, plan)
    [server] = _workloads(objs)
    assert server["metadata"]["name"] == m.name
    assert all(REVISION_LABEL not in str(o) for o in objs)


@pytest.mark.parametrize("at", [BEFORE, AFTER])
def test_every_object_validates_strictly(at: datetime) -> None:
    for obj in _objects(at):
        if not obj["apiVersion"].startswith(("monitoring.coreos.com/", "keda.sh/")):
            kubernetes_validate.validate(obj, "1.33.0", strict=True)


@pytest.mark.parametrize(
    ("rollout", "key", "text"),
    [
        ({"keepPrevious": 0}, "rollout.previous", "needs keepPrevious > 0"),
        (
            {
                "previous": {
                    "image": "vllm/vllm-openai:v0.32.0",
                    "revision": SERVED_REVISION,
                    "until": UNTIL,
                }
            },
            "rollout.previous",
            "is the revision being served",
        ),
        (
            {
                "previous": {
                    "image": "vllm/vllm-openai:latest",
                    "revision": SERVED_REVISION,
                    "until": UNTIL,
                }
            },
            "rollout.previous.image",
            "pinned image",
        ),
        (
            {"previous": {"image": IMAGE, "revision": "main", "until": UNTIL}},
            "rollout.previous.revision",
            "",
        ),
        (
            {
                "previous": {
                    "image": IMAGE,
                    "revision": OLD_REVISION,
                    "until": "2026-12-06T12:00:00",
                }
            },
            "rollout.previous.until",
            "with its offset",
        ),
    ],
)
def test_a_bad_previous_is_refused_at_its_key(rollout: dict[str, Any], key: str, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        stack(model=MODEL, max_nodes=11, rollout=_kept(**rollout))
    found = [str(i) for i in info.value.issues]
    assert any(f".{key}" in f and text in f for f in found), found
