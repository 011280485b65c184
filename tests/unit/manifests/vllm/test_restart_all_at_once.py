"""``models[].rollout.restart: allAtOnce`` (#27) in the manifests: a StatefulSet gets
``maxUnavailable: 100%``, a Deployment ``Recreate``, only when opted in; every object validates
strictly for the cluster version; no alert assumes a replica keeps serving through a rollout."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from components.manifests.vllm.observability import availability_rules
from components.manifests.vllm.render import model_objects
from components.manifests.vllm.workload import workload
from components.planning.capacity import RolloutStrategy
from tests.unit.manifests.vllm.support import stack

ALL_AT_ONCE: dict[str, Any] = {"rollout": {"restart": "allAtOnce"}, "allowDowntime": True}
NO_CACHE: dict[str, Any] = {"weightCache": {"mode": "none"}}
K8S = "1.37"


def test_a_statefulset_replaces_every_replica_at_once_when_opted_in() -> None:
    cfg, m, plan = stack(k8s_version=K8S, **ALL_AT_ONCE)  # the 70B, 2 replicas
    assert plan.strategy is RolloutStrategy.ALL_AT_ONCE and not plan.strategy.zero_downtime
    sts = workload(cfg, m, plan)
    assert sts["kind"] == "StatefulSet"
    assert sts["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"partition": 0, "maxUnavailable": "100%"},
    }
    # Parallel pod management: the controller deletes and recreates the whole batch together.
    assert sts["spec"]["podManagementPolicy"] == "Parallel"


@pytest.mark.parametrize("k8s", [None, K8S])
def test_without_it_a_statefulset_sets_no_max_unavailable(k8s: str | None) -> None:
    cfg, m, plan = stack(k8s_version=k8s)
    assert plan.strategy is RolloutStrategy.ONE_DOWN
    update = workload(cfg, m, plan)["spec"]["updateStrategy"]
    assert update == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}


def test_a_deployment_is_recreated_and_holds_no_surge_gpus() -> None:
    # 8 nodes: the 8B's Deployment would surge one replica (test_workload.py); opted in, every
    # old pod is gone before a new one is created, so no GPU is held twice.
    _, _, surging = stack(model=1, max_nodes=8, **NO_CACHE)
    assert surging.strategy is RolloutStrategy.SURGE and surging.surge_gpus == 1
    cfg, m, plan = stack(model=1, max_nodes=8, **NO_CACHE, **ALL_AT_ONCE)
    assert plan.strategy is RolloutStrategy.ALL_AT_ONCE and plan.surge_gpus == 0
    dep = workload(cfg, m, plan)
    assert dep["kind"] == "Deployment" and dep["spec"]["strategy"] == {"type": "Recreate"}


def test_no_stopped_serving_alert_since_a_rollout_takes_every_replica_down() -> None:
    cfg, m, plan = stack(k8s_version=K8S)
    assert "VllmStoppedServing" in {r["alert"] for r in availability_rules(cfg, m, plan)}
    cfg, m, plan = stack(k8s_version=K8S, **ALL_AT_ONCE)
    alerts = {r["alert"] for r in availability_rules(cfg, m, plan)}
    assert alerts == {"VllmServerDown", "VllmReplicaDown"}


@pytest.mark.parametrize(("model", "more"), [(0, {}), (1, NO_CACHE), (2, {})])
def test_every_object_validates_strictly_for_the_cluster_version(
    model: int, more: dict[str, Any]
) -> None:
    cfg, m, plan = stack(model=model, k8s_version=K8S, **more, **ALL_AT_ONCE)
    objs = model_objects(cfg, m, plan)
    assert any(o["kind"] in ("StatefulSet", "Deployment") for o in objs)
    for obj in objs:
        if not obj["apiVersion"].startswith(("monitoring.coreos.com/", "keda.sh/")):
            kubernetes_validate.validate(obj, f"{K8S}.0", strict=True)
