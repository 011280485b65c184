"""components/manifests/vllm/workload.py: placement, cache, probes, rollout, CPU mode, security."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest

from components.contract import GPU_RESOURCE
from components.manifests.vllm.render import model_objects
from components.manifests.vllm.workload import (
    pod_disruption_budget,
    probes,
    rollout_timeouts,
    server_pod_template,
    startup_budget_seconds,
    workload,
)
from components.planning.capacity import RolloutStrategy
from components.planning.memory import weight_memory_gib
from components.planning.model_checks import weight_cache_gi
from tests.unit.manifests.vllm.support import container, kinds, stack

# ---------------------------------------------------------------------------------- placement


def test_gpu_limits_equal_tensor_parallel_size_with_pool_selector_and_toleration() -> None:
    cfg, m, plan = stack()
    pod = workload(cfg, m, plan)["spec"]["template"]["spec"]
    res = pod["containers"][0]["resources"]
    assert res["limits"][GPU_RESOURCE] == "2"
    assert res["requests"][GPU_RESOURCE] == "2"
    assert {"cpu", "memory"} <= set(res["requests"])
    assert pod["nodeSelector"] == cfg.cluster.gpu.node_labels
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]


def test_no_toleration_when_the_pool_is_not_tainted() -> None:
    cfg, m, _ = stack("Pulumi.development.yaml")
    untainted = cfg.model_copy(
        update={
            "cluster": cfg.cluster.model_copy(
                update={"gpu_pool": cfg.cluster.gpu.model_copy(update={"taint": False})}
            )
        }
    )
    assert "tolerations" not in server_pod_template(untainted, m)["spec"]


def test_configured_resources_override_the_size_defaults() -> None:
    cfg, m, plan = stack(resources={"cpu": "6", "memory": "40Gi"})
    res = container(workload(cfg, m, plan))["resources"]
    assert res["requests"]["cpu"] == "6"
    assert res["requests"]["memory"] == res["limits"]["memory"] == "40Gi"


def test_shared_memory_volume_only_with_tensor_parallelism() -> None:
    cfg, m, plan = stack(shmSizeGi=24)
    spec = workload(cfg, m, plan)["spec"]["template"]["spec"]
    shm = next(v for v in spec["volumes"] if v["name"] == "shm")
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "24Gi"}
    assert {"name": "shm", "mountPath": "/dev/shm"} in spec["containers"][0]["volumeMounts"]
    cfg1, m1, plan1 = stack(model=1)
    names = [v["name"] for v in workload(cfg1, m1, plan1)["spec"]["template"]["spec"]["volumes"]]
    assert "shm" not in names


# -------------------------------------------------------------------------------- weight cache


def test_per_replica_cache_is_a_statefulset_with_claim_templates() -> None:
    cfg, m, plan = stack()
    w = workload(cfg, m, plan)
    assert w["kind"] == "StatefulSet"
    spec = w["spec"]
    assert spec["serviceName"] == f"{m.name}-pods"
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["updateStrategy"]["type"] == "RollingUpdate"
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "weights"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["storageClassName"] == "linode-block-storage-retain"
    # the 70.6B bf16 checkpoint (~131.5 GiB) twice plus 10 %: room for a second revision
    assert claim["spec"]["resources"]["requests"]["storage"] == "290Gi"


def test_cache_size_defaults_to_two_checkpoints_plus_a_tenth_at_least_20_gi() -> None:
    _, m, _ = stack(model=1)  # 8B bf16 checkpoint: ~14.9 GiB
    expected = math.ceil(weight_memory_gib(8, "bf16") * 2 * 1.1)
    assert weight_cache_gi(m) == expected == 33
    # served at fp8 (dev), the cache still holds the bf16 checkpoint it downloads
    _, dev, _ = stack("Pulumi.development.yaml")
    assert dev.precision == "fp8" and weight_cache_gi(dev) == 33
    _, small, _ = stack("examples/Pulumi.local.yaml")
    assert weight_cache_gi(small) == 20
    _, sized, _ = stack(model=1, weightCache={"sizeGi": 40})
    assert weight_cache_gi(sized) == 40


def test_shared_cache_is_a_deployment_with_one_read_write_many_claim() -> None:
    cfg, m, plan = stack(
        model=1, weightCache={"mode": "shared", "storageClass": "nfs-rwx", "sizeGi": 50}
    )
    objs = model_objects(cfg, m, plan)
    claim = next(o for o in objs if o["kind"] == "PersistentVolumeClaim")
    assert claim["metadata"]["name"] == f"{m.name}-weights"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["storageClassName"] == "nfs-rwx"
    dep = next(o for o in objs if o["kind"] == "Deployment")
    vols = dep["spec"]["template"]["spec"]["volumes"]
    assert {"name": "weights", "persistentVolumeClaim": {"claimName": f"{m.name}-weights"}} in vols
    assert "StatefulSet" not in kinds(objs)
    # The headless Service still exists: the smoke test finds every replica through it.
    assert ("Service", f"{m.name}-pods") in [(o["kind"], o["metadata"]["name"]) for o in objs]


def test_no_cache_is_a_deployment_with_an_empty_dir() -> None:
    cfg, m, plan = stack(model=1, weightCache={"mode": "none"})
    dep = workload(cfg, m, plan)
    assert dep["kind"] == "Deployment"
    weights = next(v for v in dep["spec"]["template"]["spec"]["volumes"] if v["name"] == "weights")
    assert "emptyDir" in weights


# ------------------------------------------------------------------------------------- probes


def test_startup_probe_budget_covers_the_configured_startup_timeout() -> None:
    _, m, _ = stack()  # startupTimeoutMinutes: 25
    p = probes(m)["startupProbe"]
    assert p["httpGet"]["path"] == "/health"
    assert p["periodSeconds"] * p["failureThreshold"] >= 25 * 60 == startup_budget_seconds(m)
    _, default, _ = stack(model=1)
    d = probes(default)["startupProbe"]
    assert d["periodSeconds"] * d["failureThreshold"] >= 15 * 60


def test_readiness_and_liveness_use_health_and_liveness_is_gated_by_startup() -> None:
    _, m, _ = stack()
    p = probes(m)
    assert p["readinessProbe"]["httpGet"]["path"] == "/health"
    assert p["livenessProbe"]["httpGet"]["path"] == "/health"
    # Kubernetes holds liveness until the startup probe succeeds; a startup probe must exist.
    assert "startupProbe" in p
    liveness_budget = p["livenessProbe"]["periodSeconds"] * p["livenessProbe"]["failureThreshold"]
    assert liveness_budget < startup_budget_seconds(m)


def test_rollout_timeouts_cover_the_startup_budget_and_each_replica_on_update() -> None:
    cfg, m, _ = stack()
    create, update = rollout_timeouts(cfg, m)
    assert create >= startup_budget_seconds(m)
    assert update >= m.replicas * startup_budget_seconds(m)


# ------------------------------------------------------------------------------------ rollout


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (
            RolloutStrategy.SURGE,
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        ),
        (
            RolloutStrategy.ONE_DOWN,
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
        ),
        (RolloutStrategy.DOWNTIME, {"type": "Recreate"}),
    ],
)
def test_deployment_strategy_follows_the_plan(
    strategy: RolloutStrategy, expected: dict[str, Any]
) -> None:
    cfg, m, plan = stack(model=1, weightCache={"mode": "none"})
    dep = workload(cfg, m, replace(plan, strategy=strategy))
    assert dep["spec"]["strategy"] == expected
    assert dep["spec"]["progressDeadlineSeconds"] >= startup_budget_seconds(m)


def test_planner_gives_deployments_surge_when_gpus_are_spare() -> None:
    # production at 8 nodes x 2 GPUs = 16, models need 8; the 8B model surges with 1 GPU
    # (9 GPUs held: a 2-GPU replica is still placed in every arrangement, 7 < 8 x 1).
    _, _, plan = stack(model=1, weightCache={"mode": "none"}, max_nodes=8)
    assert plan.strategy is RolloutStrategy.SURGE
    # at 7 nodes the budget has room (14) but a surge replica could leave the 70B Pending
    _, _, tight = stack(model=1, weightCache={"mode": "none"})
    assert tight.strategy is RolloutStrategy.ONE_DOWN


def test_a_statefulset_plan_never_surges() -> None:
    cfg, m, plan = stack()
    with pytest.raises(ValueError, match="cannot surge"):
        workload(cfg, m, replace(plan, strategy=RolloutStrategy.SURGE))


def test_pod_disruption_budget_only_with_two_or_more_replicas() -> None:
    cfg, m, _ = stack()
    pdb = pod_disruption_budget(cfg, m)
    assert pdb is not None and pdb["spec"]["maxUnavailable"] == 1
    dcfg, dm, _ = stack("Pulumi.development.yaml")
    assert pod_disruption_budget(dcfg, dm) is None


# ---------------------------------------------------------------------------------- CPU mode


def test_cpu_mode_has_no_gpu_request_selector_or_toleration_and_sets_kv_space() -> None:
    cfg, m, plan = stack("examples/Pulumi.local.yaml")
    assert m.accelerator == "cpu"
    spec = workload(cfg, m, plan)["spec"]["template"]["spec"]
    c = spec["containers"][0]
    assert GPU_RESOURCE not in c["resources"]["requests"]
    assert GPU_RESOURCE not in c["resources"].get("limits", {})
    assert "nodeSelector" not in spec and "tolerations" not in spec
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "2"
    assert "--gpu-memory-utilization" not in c["args"]
    assert c["image"].startswith("vllm/vllm-openai-cpu:")


# ----------------------------------------------------------------------------------- security


def test_every_pod_runs_unprivileged_non_root_without_service_account_token() -> None:
    cfg, m, plan = stack()
    for obj in model_objects(cfg, m, plan):
        if obj["kind"] not in ("StatefulSet", "Deployment", "Job"):
            continue
        pod = obj["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["readOnlyRootFilesystem"] is True


def test_writable_paths_are_volumes() -> None:
    cfg, m, plan = stack()
    c = container(workload(cfg, m, plan))
    env = {e["name"]: e.get("value") for e in c["env"]}
    mounts = [v["mountPath"] for v in c["volumeMounts"]]
    for var in (
        "HOME",
        "HF_HOME",
        "XDG_CACHE_HOME",
        "VLLM_CACHE_ROOT",
        "TRITON_CACHE_DIR",
        "TORCHINDUCTOR_CACHE_DIR",
        "XDG_CONFIG_HOME",
    ):
        assert any(env[var] == p or env[var].startswith(p + "/") for p in mounts), var
    assert "/tmp" in mounts


def test_rollout_waits_cover_a_slow_image_pull_and_every_pod_keda_may_have() -> None:
    from components.config import Autoscaling
    from components.config.timing import TimingConfig
    from components.planning.timing import image_pull_budget_seconds

    cfg, m, _ = stack("Pulumi.staging.yaml")
    create, update = rollout_timeouts(cfg, m)
    timing = TimingConfig(pre_pull_images=False, image_size_gb=60, image_pull_mb_per_s=5)
    slow = cfg.model_copy(update={"timing": timing})
    slow_create, _ = rollout_timeouts(slow, m)
    # a 60 GB image at 5 MB/s: 12,000 s estimated, 3x allowed; the 15-minute margin is not it
    assert slow_create - create >= image_pull_budget_seconds(slow.timing) - 15 * 60
    scaled = m.model_copy(
        update={"autoscaling": Autoscaling(min_replicas=1, max_replicas=3), "replicas": 1}
    )
    per_pod, scaled_update = rollout_timeouts(cfg, scaled)
    assert scaled_update == 3 * per_pod  # KEDA may have three pods to replace
    assert update == m.replicas * create
