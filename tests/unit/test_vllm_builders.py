"""Pure tests of the vLLM manifest builders (components/vllm), no Pulumi involved."""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from components.config import ModelConfig, StackConfig, load_stack_config
from components.config.source import read_stack_file
from components.manifests.toolkit import API_KEY_SECRET, GPU_RESOURCE, HF_TOKEN_SECRET
from components.manifests.vllm.args import server_args, server_env
from components.manifests.vllm.extras import ingress, scaled_object
from components.manifests.vllm.network import server_network_policy, smoke_network_policy
from components.manifests.vllm.render import model_objects, object_key
from components.manifests.vllm.smoke import smoke_job
from components.manifests.vllm.workload import (
    pod_disruption_budget,
    probes,
    rollout_timeouts,
    server_pod_template,
    startup_budget_seconds,
    weight_cache_size_gi,
    workload,
)
from components.planning.capacity import ModelPlan, RolloutStrategy, plan_stack
from components.planning.memory import weight_memory_gib

ROOT = Path(__file__).resolve().parents[2]


def stack(
    file: str = "Pulumi.production.yaml",
    model: int = 0,
    drop_others: bool = False,
    **overrides: Any,
) -> tuple[StackConfig, ModelConfig, ModelPlan]:
    """A committed stack file with ``overrides`` applied to one model (camelCase keys)."""
    raw, secrets = read_stack_file(ROOT / file)
    models = copy.deepcopy(raw["models"])
    models[model].update(overrides)
    raw["models"] = [models[model]] if drop_others else models
    cfg = load_stack_config(raw, secrets).config
    name = models[model]["name"]
    m = next(x for x in cfg.models if x.name == name)
    return cfg, m, plan_stack(cfg).model(name)


def kinds(objs: list[dict[str, Any]]) -> list[str]:
    return [o["kind"] for o in objs]


def container(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]["containers"][0]  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------ args


def test_args_put_the_model_first_then_managed_flags_then_extra_args() -> None:
    _, m, _ = stack()
    args = server_args(m)
    assert args[0] == "meta-llama/Llama-3.3-70B-Instruct"
    pairs = dict(zip(args[1:-3:2], args[2:-3:2], strict=True))
    assert pairs == {
        "--served-model-name": "llama-3-3-70b-instruct",
        "--host": "0.0.0.0",
        "--port": "8000",
        "--tensor-parallel-size": "2",
        "--max-model-len": "32768",
        "--gpu-memory-utilization": "0.92",
        "--revision": "6f6073b423013f6a7d4d9f39144961bfbfbc386b",
    }
    assert args[-3:] == ["--quantization", "fp8", "--enable-prefix-caching"]


def test_served_model_name_is_always_set_even_without_extra_args() -> None:
    _, m, _ = stack(model=2)
    args = server_args(m)
    assert args[args.index("--served-model-name") + 1] == m.name
    assert args[-2:] == ["--revision", m.revision]


def test_server_command_is_vllm_serve_with_positional_model() -> None:
    cfg, m, plan = stack()
    c = container(workload(cfg, m, plan))
    assert c["command"] == ["vllm", "serve"]
    assert "--model" not in c["args"]


def test_secrets_come_only_from_secret_key_refs() -> None:
    _, m, _ = stack()
    env = {e["name"]: e for e in server_env(m)}
    assert env["VLLM_API_KEY"] == {
        "name": "VLLM_API_KEY",
        "valueFrom": {"secretKeyRef": {"name": API_KEY_SECRET, "key": "api-key"}},
    }
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": HF_TOKEN_SECRET,
        "key": "token",
        "optional": True,
    }
    assert "value" not in env["VLLM_API_KEY"] and "value" not in env["HF_TOKEN"]
    assert not any("api-key" in a or "token" in a.lower() for a in server_args(m))


def test_hf_home_is_on_the_weight_cache_volume() -> None:
    cfg, m, plan = stack()
    c = container(workload(cfg, m, plan))
    env = {e["name"]: e.get("value") for e in c["env"]}
    mounts = {v["name"]: v["mountPath"] for v in c["volumeMounts"]}
    assert env["HF_HOME"].startswith(mounts["weights"] + "/")


# ---------------------------------------------------------------------------------- placement


def test_gpu_limits_equal_tensor_parallel_size_with_pool_selector_and_toleration() -> None:
    cfg, m, plan = stack()
    pod = workload(cfg, m, plan)["spec"]["template"]["spec"]
    res = pod["containers"][0]["resources"]
    assert res["limits"][GPU_RESOURCE] == "2"
    assert res["requests"][GPU_RESOURCE] == "2"
    assert {"cpu", "memory"} <= set(res["requests"])
    assert pod["nodeSelector"] == cfg.cluster.gpu_pool.node_labels
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]


def test_no_toleration_when_the_pool_is_not_tainted() -> None:
    cfg, m, _ = stack("Pulumi.development.yaml")
    untainted = cfg.model_copy(
        update={
            "cluster": cfg.cluster.model_copy(
                update={"gpu_pool": cfg.cluster.gpu_pool.model_copy(update={"taint": False})}
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
    assert claim["spec"]["resources"]["requests"]["storage"] == "200Gi"  # sizeGi in the file


def test_cache_size_defaults_to_one_and_a_half_weights_at_least_20_gi() -> None:
    _, m, _ = stack(model=1)  # 8B bf16: ~14.9 GiB of weights
    expected = math.ceil(weight_memory_gib(8, "bf16") * 1.5)
    assert weight_cache_size_gi(m) == expected == 23
    _, small, _ = stack("examples/Pulumi.local.yaml")
    assert weight_cache_size_gi(small) == 20


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
    assert f"{m.name}-pods" not in [o["metadata"]["name"] for o in objs]


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
    _, m, _ = stack()
    create, update = rollout_timeouts(m)
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
    # production: 5 nodes x 2 GPUs = 10, models need 8; the 8B model surges with 1 GPU.
    _, _, plan = stack(model=1, weightCache={"mode": "none"})
    assert plan.strategy is RolloutStrategy.SURGE


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


# ------------------------------------------------------------------------------------ network


def test_network_policy_admits_router_monitoring_smoke_and_health_reporter_on_8000() -> None:
    cfg, m, _ = stack()
    np = server_network_policy(cfg, m)
    (rule,) = np["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8000}]
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "api-router"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "api-router"}},
        },
        {
            # only the Prometheus pods (by label), not every pod of the monitoring namespace
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
        },
        {
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/name": m.name,
                    "app.kubernetes.io/component": "smoke-test",
                }
            }
        },
        {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "health-reporter"}}},
    ]
    assert np["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == m.name


def test_smoke_policy_lets_the_smoke_pods_reach_the_server_pods() -> None:
    cfg, m, plan = stack()
    np = smoke_network_policy(cfg, m)
    job = smoke_job(cfg, m, workload(cfg, m, plan)["spec"]["template"])
    job_labels = job["spec"]["template"]["metadata"]["labels"]
    assert np["spec"]["podSelector"]["matchLabels"].items() <= job_labels.items()
    server_labels = workload(cfg, m, plan)["spec"]["template"]["metadata"]["labels"]
    to = np["spec"]["egress"][1]["to"][0]["podSelector"]["matchLabels"]
    assert to.items() <= server_labels.items()
    # and the server policy admits them
    peer = server_network_policy(cfg, m)["spec"]["ingress"][0]["from"][2]["podSelector"]
    assert peer["matchLabels"].items() <= job_labels.items()


def test_service_and_selectors_match_the_pods() -> None:
    cfg, m, plan = stack()
    objs = {(o["kind"], o["metadata"]["name"]): o for o in model_objects(cfg, m, plan)}
    svc = objs[("Service", m.name)]
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"] == [
        {"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}
    ]
    assert svc["metadata"]["namespace"] == "vllm-production"
    pod_labels = objs[("StatefulSet", m.name)]["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    assert objs[("Service", f"{m.name}-pods")]["spec"]["clusterIP"] == "None"


# -------------------------------------------------------------------------------- smoke test


def test_smoke_job_calls_chat_completions_with_the_key_from_the_secret() -> None:
    cfg, m, plan = stack()
    job = smoke_job(cfg, m, workload(cfg, m, plan)["spec"]["template"])
    c = container(job)
    env = {e["name"]: e for e in c["env"]}
    assert env["SMOKE_URL"]["value"] == (
        "http://llama-3-3-70b-instruct.vllm-production.svc.cluster.local:8000/v1/chat/completions"
    )
    assert env["VLLM_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == API_KEY_SECRET
    assert env["SMOKE_TIMEOUT_SECONDS"]["value"] == "3"
    assert '"model":"llama-3-3-70b-instruct"' in env["SMOKE_PAYLOAD"]["value"]
    assert "messages" in env["SMOKE_PAYLOAD"]["value"]
    script = c["command"][-1]
    assert '--max-time "$SMOKE_TIMEOUT_SECONDS"' in script
    assert '"$code" != "200"' in script
    assert job["spec"]["backoffLimit"] >= 0 and job["spec"]["activeDeadlineSeconds"] > 0
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_smoke_job_uses_completions_for_base_models_and_the_model_budget() -> None:
    cfg, m, _ = stack(api="completions", smokeTestTimeoutSeconds=7.5)
    env = {e["name"]: e.get("value") for e in container(smoke_job(cfg, m, {}))["env"]}
    assert env["SMOKE_URL"].endswith("/v1/completions")
    assert '"prompt"' in env["SMOKE_PAYLOAD"]
    assert env["SMOKE_TIMEOUT_SECONDS"] == "7.5"


def test_smoke_job_name_changes_with_the_served_spec_and_is_stable_otherwise() -> None:
    cfg, m, plan = stack()
    first = model_objects(cfg, m, plan)[-1]
    again = model_objects(cfg, m, plan)[-1]
    assert first["kind"] == "Job"
    assert first["metadata"]["name"] == again["metadata"]["name"]
    assert first["metadata"]["name"].startswith(f"{m.name}-smoke-")
    assert len(first["metadata"]["name"].rsplit("-", 1)[1]) == 8
    cfg2, m2, plan2 = stack(image="vllm/vllm-openai:v0.11.1")
    assert model_objects(cfg2, m2, plan2)[-1]["metadata"]["name"] != first["metadata"]["name"]
    cfg3, m3, plan3 = stack(replicas=3)  # scaling does not change what is served
    assert model_objects(cfg3, m3, plan3)[-1]["metadata"]["name"] == first["metadata"]["name"]


def test_object_keys_are_unique_and_ignore_the_smoke_hash() -> None:
    cfg, m, plan = stack()
    keys = [object_key(m, o) for o in model_objects(cfg, m, plan)]
    assert len(keys) == len(set(keys))
    assert "job-smoke" in keys and "service-pods" in keys


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


# ------------------------------------------------------------------------------------- extras


def test_ingress_exposes_only_v1_with_tls_from_cert_manager() -> None:
    cfg, m, _ = stack(ingress={"host": "llama.example.com", "clusterIssuer": "le-prod"})
    ing = ingress(cfg, m)
    assert ing is not None
    assert ing["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "le-prod"}
    assert ing["spec"]["tls"] == [{"hosts": ["llama.example.com"], "secretName": f"{m.name}-tls"}]
    (path,) = ing["spec"]["rules"][0]["http"]["paths"]
    assert path["path"] == "/v1"
    assert ingress(*stack()[:2]) is None


def test_scaled_object_targets_the_workload_on_waiting_requests() -> None:
    cfg, m, _ = stack(
        model=1, autoscaling={"minReplicas": 2, "maxReplicas": 3, "waitingRequestsTarget": 4}
    )
    so = scaled_object(cfg, m)
    assert so is not None
    assert so["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "name": m.name,
    }
    assert (so["spec"]["minReplicaCount"], so["spec"]["maxReplicaCount"]) == (2, 3)
    (trigger,) = so["spec"]["triggers"]
    assert "vllm:num_requests_waiting" in trigger["metadata"]["query"]
    assert trigger["metadata"]["threshold"] == "4"


def test_observability_objects_follow_the_switches() -> None:
    cfg, m, plan = stack("examples/Pulumi.local.yaml")
    ks = kinds(model_objects(cfg, m, plan))
    assert "ServiceMonitor" not in ks and "PrometheusRule" not in ks
    assert "ConfigMap" in ks
    pcfg, pm, pplan = stack()
    pks = kinds(model_objects(pcfg, pm, pplan))
    assert {"ServiceMonitor", "PrometheusRule", "ConfigMap"} <= set(pks)
    assert pks[-1] == "Job"


# ------------------------------------------------------------------- config-driven details


def test_workload_carries_the_facts_the_policy_pack_reads() -> None:
    from policy.rules import ALLOW_DOWNTIME_ANNOTATION, ROUTING_ANNOTATION

    cfg, m, plan = stack(model=1, replicas=1, allowDowntime=True, routingEnabled=False)
    workload = next(o for o in model_objects(cfg, m, plan) if o["kind"] == "StatefulSet")
    assert workload["metadata"]["annotations"] == {
        ALLOW_DOWNTIME_ANNOTATION: "true",
        ROUTING_ANNOTATION: "false",
    }


def test_operator_objects_carry_the_configured_rule_labels() -> None:
    cfg, m, plan = stack()
    cfg = cfg.model_copy(
        update={
            "observability": cfg.observability.model_copy(
                update={"rule_labels": {"release": "kube-prometheus-stack"}}
            )
        }
    )
    objs = {o["kind"]: o for o in model_objects(cfg, m, plan)}
    for kind in ("ServiceMonitor", "PrometheusRule"):
        assert objs[kind]["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert "release" not in objs["Service"]["metadata"]["labels"]


def test_keda_queries_the_configured_prometheus() -> None:
    cfg, m, _ = stack(model=1, autoscaling={"minReplicas": 2, "maxReplicas": 3})
    default = scaled_object(cfg, m)
    assert default is not None
    assert (
        "prometheus-operated.monitoring.svc"
        in (default["spec"]["triggers"][0]["metadata"]["serverAddress"])
    )
    cfg = cfg.model_copy(
        update={
            "observability": cfg.observability.model_copy(
                update={"prometheus_url": "http://prom.example:9090"}
            )
        }
    )
    configured = scaled_object(cfg, m)
    assert configured is not None
    assert configured["spec"]["triggers"][0]["metadata"]["serverAddress"] == (
        "http://prom.example:9090"
    )


def test_ingress_controller_namespace_comes_from_config() -> None:
    from components.manifests.vllm.network import server_network_policy

    cfg, m, _ = stack(
        model=1, ingress={"host": "llm.example.com", "controllerNamespace": "traefik"}
    )
    peers = server_network_policy(cfg, m)["spec"]["ingress"][0]["from"]
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}}
    } in peers
