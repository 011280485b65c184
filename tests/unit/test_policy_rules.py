"""The policy pack's rules (policy/rules.py), called directly on plain resource properties.

Each rule is shown rejecting a violating resource and accepting a passing one. The manifests
are built by hand in the shape the engine sends (Kubernetes JSON, camelCase); the real
builders' output is checked against the rules in test_policy_builders.py.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.manifests.vllm.render import model_objects
from components.planning.capacity import plan_stack
from policy import rules
from policy.rules import UNKNOWN, Resource
from tests.stackfiles import stack_config

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
POOL = "linode:index/lkeNodePool:LkeNodePool"
ENTRY = "pulumi-python:dynamic/registry:RegistryEntry"


def server(
    env: str = "production",
    *,
    name: str = "llama",
    image: str = "vllm/vllm-openai:v0.11.0",
    replicas: int = 2,
    kind: str = STATEFULSET,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": "server",
        "app.kubernetes.io/part-of": "vllm-platform",
        "vllm-platform.io/environment": env,
    }
    meta: dict[str, Any] = {"name": name, "namespace": f"vllm-{env}", "labels": dict(labels)}
    if annotations:
        meta["annotations"] = annotations
    probe = {"httpGet": {"path": "/health", "port": "http"}}
    container = {
        "name": "vllm",
        "image": image,
        "env": [
            {
                "name": "VLLM_API_KEY",
                "valueFrom": {"secretKeyRef": {"name": "vllm-api-key", "key": "api-key"}},
            },
            {"name": "HF_HOME", "value": "/var/cache/vllm-platform/huggingface"},
        ],
        "resources": {
            "requests": {"cpu": "4", "memory": "24Gi", "nvidia.com/gpu": "1"},
            "limits": {"memory": "24Gi", "nvidia.com/gpu": "1"},
        },
        "startupProbe": probe,
        "readinessProbe": probe,
        "livenessProbe": probe,
    }
    return {
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {
                "matchLabels": {
                    "app.kubernetes.io/name": name,
                    "app.kubernetes.io/component": "server",
                }
            },
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def container(props: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = props["spec"]["template"]["spec"]["containers"][0]
    return c


def netpol(env: str = "production", name: str = "llama", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": name}},
        "policyTypes": ["Ingress", "Egress"],
    }
    body.update(spec)
    return {"metadata": {"name": name, "namespace": f"vllm-{env}"}, "spec": body}


def pdb(env: str = "production", name: str = "llama") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": f"vllm-{env}"},
        "spec": {
            "maxUnavailable": 1,
            "selector": {
                "matchLabels": {
                    "app.kubernetes.io/name": name,
                    "app.kubernetes.io/component": "server",
                }
            },
        },
    }


def entry(model: str = "llama", env: str = "production", routing: Any = True) -> dict[str, Any]:
    return {
        "model_name": model,
        "environment": env,
        "routing_enabled": routing,
        "endpoint_url": UNKNOWN,
    }


def res(resource_type: str, props: dict[str, Any], name: str = "r") -> Resource:
    return Resource(resource_type, f"urn:pulumi:s::p::{resource_type}::{name}", name, props)


# ----------------------------------------------------------------------------- recognition


def test_a_server_is_recognised_by_labels_or_by_a_vllm_container() -> None:
    by_labels = server()
    container(by_labels)["name"] = "server"
    assert rules.vllm_workload(STATEFULSET, by_labels) is not None
    by_container = server()
    by_container["spec"]["template"]["metadata"]["labels"] = {}
    assert rules.vllm_workload(DEPLOYMENT, by_container) is not None
    other = server()
    other["spec"]["template"]["metadata"]["labels"] = {"app": "router"}
    container(other)["name"] = "router"
    assert rules.vllm_workload(DEPLOYMENT, other) is None
    assert rules.vllm_workload("kubernetes:apps/v1:DaemonSet", server()) is None


def test_environment_comes_from_the_label_then_the_namespace() -> None:
    w = rules.vllm_workload(STATEFULSET, server("staging"))
    assert w is not None and rules.environment_of(w) == "staging"
    unlabelled = server("development")
    unlabelled["spec"]["template"]["metadata"]["labels"].pop("vllm-platform.io/environment")
    unlabelled["metadata"]["labels"].pop("vllm-platform.io/environment")
    w = rules.vllm_workload(STATEFULSET, unlabelled)
    assert w is not None and rules.environment_of(w) == "development"
    unlabelled["metadata"]["namespace"] = "models"
    w = rules.vllm_workload(STATEFULSET, unlabelled)
    assert w is not None and rules.environment_of(w) is None


# ---------------------------------------------------------------------------- pinned image


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("vllm/vllm-openai:v0.11.0", True),
        ("vllm/vllm-openai@sha256:" + "a" * 64, True),
        ("ghcr.io:443/org/vllm:v1@sha256:" + "b" * 64, True),
        ("vllm/vllm-openai:latest", False),
        ("vllm/vllm-openai", False),
        ("Not An Image", False),
        ("registry.example.com:5000/vllm", False),
    ],
)
def test_pinned_image_rule(image: str, pinned: bool) -> None:
    assert rules.image_is_pinned(image) is pinned


def test_the_pack_recognises_the_labels_the_builders_write() -> None:
    """What the pack keys on is what the builders emit (both read components.contract)."""
    cfg = stack_config("production")
    model = cfg.models[0]
    plan = plan_stack(cfg).model(model.name)
    sts = next(o for o in model_objects(cfg, model, plan) if o["kind"] == "StatefulSet")
    for c in sts["spec"]["template"]["spec"]["containers"]:
        c["name"] = "renamed"  # recognised by its labels alone
    found = rules.vllm_workload(STATEFULSET, sts)
    assert found is not None
    assert rules.environment_of(found) == "production"
    assert found.labels[rules.ENVIRONMENT_LABEL] == "production"


@pytest.mark.parametrize("env", ["staging", "production"])
@pytest.mark.parametrize("image", ["vllm/vllm-openai:latest", "vllm/vllm-openai"])
def test_unpinned_images_are_rejected_in_staging_and_production(env: str, image: str) -> None:
    [message] = rules.check_pinned_images(STATEFULSET, server(env, image=image))
    assert image in message and env in message
    assert "Fix:" in message and "vllm/vllm-openai:v0.11.0" in message


def test_pinned_images_pass_and_development_may_float() -> None:
    assert rules.check_pinned_images(STATEFULSET, server("production")) == []
    digest = "vllm/vllm-openai@sha256:" + "c" * 64
    assert rules.check_pinned_images(DEPLOYMENT, server("staging", image=digest)) == []
    latest = "vllm/vllm-openai:latest"
    assert rules.check_pinned_images(DEPLOYMENT, server("development", image=latest)) == []


def test_an_unlabelled_workload_is_held_to_the_pinned_rule() -> None:
    props = server("production", image="vllm/vllm-openai:latest")
    props["metadata"]["namespace"] = "models"
    for labels in (props["metadata"]["labels"], props["spec"]["template"]["metadata"]["labels"]):
        labels.pop("vllm-platform.io/environment")
    [message] = rules.check_pinned_images(STATEFULSET, props)
    assert "held to production rules" in message


def test_an_image_unknown_during_preview_is_not_judged() -> None:
    assert rules.check_pinned_images(STATEFULSET, server(image=UNKNOWN)) == []  # type: ignore[arg-type]


# ----------------------------------------------------------------------- resources, probes


def test_a_complete_vllm_container_passes() -> None:
    assert rules.check_vllm_containers(STATEFULSET, server()) == []


def test_a_gpu_container_without_gpus_is_rejected() -> None:
    props = server()
    res_ = container(props)["resources"]
    del res_["limits"]["nvidia.com/gpu"]
    del res_["requests"]["nvidia.com/gpu"]
    [message] = rules.check_vllm_containers(STATEFULSET, props)
    assert "requests no GPU" in message and "nvidia.com/gpu" in message
    assert "accelerator: cpu" in message


def test_zero_gpus_or_a_request_differing_from_the_limit_is_rejected() -> None:
    props = server()
    container(props)["resources"]["limits"]["nvidia.com/gpu"] = "0"
    container(props)["resources"]["requests"]["nvidia.com/gpu"] = "0"
    assert "requests no GPU" in rules.check_vllm_containers(STATEFULSET, props)[0]
    props = server()
    container(props)["resources"]["requests"]["nvidia.com/gpu"] = "2"
    [message] = rules.check_vllm_containers(STATEFULSET, props)
    assert "differs from the limit" in message


@pytest.mark.parametrize("marker", ["env", "annotation"])
def test_cpu_mode_needs_no_gpu(marker: str) -> None:
    props = server(
        annotations={"vllm-platform.io/accelerator": "cpu"} if marker == "annotation" else None
    )
    c = container(props)
    c["resources"] = {"requests": {"cpu": "4", "memory": "16Gi"}, "limits": {"memory": "16Gi"}}
    if marker == "env":
        c["env"].append({"name": "VLLM_CPU_KVCACHE_SPACE", "value": "4"})
    assert rules.check_vllm_containers(DEPLOYMENT, props) == []


def test_missing_cpu_and_memory_requests_are_rejected() -> None:
    props = server()
    container(props)["resources"]["requests"] = {"nvidia.com/gpu": "1"}
    [message] = rules.check_vllm_containers(STATEFULSET, props)
    assert "no cpu or memory request" in message and "resources.requests.cpu/memory" in message


@pytest.mark.parametrize("probe", ["startupProbe", "readinessProbe", "livenessProbe"])
def test_each_missing_probe_is_rejected(probe: str) -> None:
    props = server()
    del container(props)[probe]
    [message] = rules.check_vllm_containers(STATEFULSET, props)
    assert probe in message and "/health" in message


def test_a_probe_without_a_handler_does_not_count() -> None:
    props = server()
    container(props)["livenessProbe"] = {"periodSeconds": 10}
    assert "livenessProbe" in rules.check_vllm_containers(STATEFULSET, props)[0]


def test_non_vllm_workloads_are_not_held_to_the_vllm_rules() -> None:
    props = server()
    props["spec"]["template"]["metadata"]["labels"] = {"app": "router"}
    container(props)["name"] = "router"
    container(props)["resources"] = {}
    assert rules.check_vllm_containers(DEPLOYMENT, props) == []


# -------------------------------------------------------------------------- literal secrets


@pytest.mark.parametrize(
    "name",
    ["HF_TOKEN", "VLLM_API_KEY", "PGPASSWORD", "DB_PASSWORD", "apiKey", "CLIENT_SECRET", "API-KEY"],
)
def test_credential_names_are_recognised(name: str) -> None:
    assert rules.is_secret_env_name(name)


@pytest.mark.parametrize(
    "name",
    ["TOKENIZERS_PARALLELISM", "HF_HOME", "HF_TOKEN_PATH", "SECRET_NAME", "MAX_TOKENS", "KEYS"],
)
def test_non_credential_names_are_left_alone(name: str) -> None:
    assert not rules.is_secret_env_name(name)


@pytest.mark.parametrize(
    ("resource_type", "path"),
    [
        (STATEFULSET, ("spec", "template", "spec")),
        ("kubernetes:batch/v1:Job", ("spec", "template", "spec")),
        ("kubernetes:batch/v1:CronJob", ("spec", "jobTemplate", "spec", "template", "spec")),
        ("kubernetes:core/v1:Pod", ("spec",)),
    ],
)
def test_a_literal_token_in_any_container_env_is_rejected(
    resource_type: str, path: tuple[str, ...]
) -> None:
    pod_spec: dict[str, Any] = {
        "initContainers": [{"name": "fetch", "env": [{"name": "HF_TOKEN", "value": "hf_abc"}]}],
        "containers": [{"name": "app", "env": [{"name": "TOKENIZERS_PARALLELISM", "value": "1"}]}],
    }
    props: dict[str, Any] = {"metadata": {"name": "job", "namespace": "ns"}}
    node = props
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = pod_spec
    [message] = rules.check_container_env_secrets(resource_type, props)
    assert "HF_TOKEN" in message and "fetch" in message and "secretKeyRef" in message
    assert "hf_abc" not in message  # the message never repeats the secret


def test_secret_refs_and_empty_values_pass_and_unknown_literals_fail() -> None:
    props = server()
    assert rules.check_container_env_secrets(STATEFULSET, props) == []
    container(props)["env"].append({"name": "HF_TOKEN", "value": ""})
    assert rules.check_container_env_secrets(STATEFULSET, props) == []
    # A literal computed from an Output is still a literal in the pod spec.
    container(props)["env"].append({"name": "DB_PASSWORD", "value": UNKNOWN})
    assert len(rules.check_container_env_secrets(STATEFULSET, props)) == 1
    assert rules.check_container_env_secrets(NETPOL, netpol()) == []


# ------------------------------------------------------------------------- network policies


def test_a_workload_without_a_network_policy_is_rejected() -> None:
    wl = res(STATEFULSET, server(), "llama")
    [v] = rules.check_network_policies([wl])
    assert v.urn == wl.urn and "NetworkPolicy" in v.message and "Fix:" in v.message


def test_a_matching_network_policy_passes() -> None:
    resources = [res(STATEFULSET, server()), res(NETPOL, netpol())]
    assert rules.check_network_policies(resources) == []


@pytest.mark.parametrize(
    "policy",
    [
        netpol(name="other"),  # selects other pods
        netpol(env="staging"),  # another namespace
        netpol(policyTypes=["Egress"]),  # does not restrict ingress
        netpol(
            podSelector={
                "matchExpressions": [
                    {"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["llama"]}
                ]
            }
        ),
    ],
)
def test_network_policies_that_do_not_cover_the_pods_do_not_count(policy: dict[str, Any]) -> None:
    assert len(rules.check_network_policies([res(STATEFULSET, server()), res(NETPOL, policy)])) == 1


def test_a_namespace_wide_default_deny_counts() -> None:
    deny = {
        "metadata": {"name": "deny", "namespace": "vllm-production"},
        "spec": {"podSelector": {}},
    }
    assert rules.check_network_policies([res(STATEFULSET, server()), res(NETPOL, deny)]) == []


def test_selector_expressions() -> None:
    labels = {"a": "1", "b": "2"}
    sel = {"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "3"]}]}
    assert rules.selector_matches(sel, labels) is True
    sel = {"matchExpressions": [{"key": "c", "operator": "Exists"}]}
    assert rules.selector_matches(sel, labels) is False
    sel = {"matchExpressions": [{"key": "c", "operator": "DoesNotExist"}]}
    assert rules.selector_matches(sel, labels) is True
    assert rules.selector_matches({"matchLabels": {"a": UNKNOWN}}, labels) is None


# -------------------------------------------------------------------- production availability


def test_production_with_one_replica_and_no_pdb_is_rejected() -> None:
    wl = res(STATEFULSET, server(replicas=1))
    messages = [v.message for v in rules.check_production_availability([wl])]
    assert len(messages) == 2
    assert "runs 1 replica" in messages[0] and "replicas: 2" in messages[0]
    assert "PodDisruptionBudget" in messages[1] and "allowDowntime" in messages[1]


def test_production_with_two_replicas_and_a_pdb_passes() -> None:
    resources = [res(STATEFULSET, server()), res(PDB, pdb())]
    assert rules.check_production_availability(resources) == []


def test_a_pdb_for_another_model_does_not_count() -> None:
    resources = [res(DEPLOYMENT, server(kind=DEPLOYMENT)), res(PDB, pdb(name="qwen"))]
    [v] = rules.check_production_availability(resources)
    assert "PodDisruptionBudget" in v.message


def test_allowed_downtime_and_other_environments_are_exempt() -> None:
    allowed = server(replicas=1, annotations={"vllm-platform.io/allow-downtime": "true"})
    assert rules.check_production_availability([res(STATEFULSET, allowed)]) == []
    staging = server("staging", replicas=1)
    assert rules.check_production_availability([res(STATEFULSET, staging)]) == []
    not_allowed = server(replicas=1, annotations={"vllm-platform.io/allow-downtime": "false"})
    assert len(rules.check_production_availability([res(STATEFULSET, not_allowed)])) == 2


def test_an_autoscaler_minimum_counts_as_the_replica_floor() -> None:
    props = server(kind=DEPLOYMENT)
    del props["spec"]["replicas"]
    scaler: dict[str, Any] = {
        "metadata": {"name": "llama", "namespace": "vllm-production"},
        "spec": {"scaleTargetRef": {"name": "llama"}, "minReplicaCount": 2},
    }
    resources = [
        res(DEPLOYMENT, props),
        res(PDB, pdb()),
        res("kubernetes:keda.sh/v1alpha1:ScaledObject", scaler),
    ]
    assert rules.check_production_availability(resources) == []
    scaler["spec"]["minReplicaCount"] = 1
    assert len(rules.check_production_availability(resources)) == 1


# ------------------------------------------------------------------------------ GPU budget


def pool(max_nodes: int | None, tags: list[str], count: int = 2) -> dict[str, Any]:
    props: dict[str, Any] = {"type": "g2-gpu-rtx4000a1-m", "nodeCount": count, "tags": tags}
    if max_nodes is not None:
        props["autoscaler"] = {"min": 1, "max": max_nodes}
    return props


def test_a_pool_over_its_environment_budget_is_rejected() -> None:
    gpu = res(POOL, pool(8, ["vllm-platform", "vllm-platform-gpu-pool"]), "gpu-pool")
    ns = res(
        "kubernetes:core/v1:Namespace",
        {"metadata": {"labels": {rules.ENVIRONMENT_LABEL: "development"}}},
    )
    [v] = rules.check_gpu_pool_budget([gpu, ns], {})
    assert v.urn == gpu.urn
    assert "8 nodes" in v.message and "development budget is 4" in v.message
    assert "cluster.gpuPool.autoscaler.max" in v.message and "Pulumi.development.yaml" in v.message


def test_a_pool_within_budget_passes_and_config_overrides_defaults() -> None:
    gpu = res(POOL, pool(5, ["vllm-platform", "production"]))
    assert rules.check_gpu_pool_budget([gpu], {}) == []
    assert len(rules.check_gpu_pool_budget([gpu], {"production": 4})) == 1


def test_without_an_autoscaler_the_node_count_is_the_maximum() -> None:
    gpu = res(POOL, pool(None, ["env:staging"], count=6))
    [v] = rules.check_gpu_pool_budget([gpu], {})
    assert "6 nodes" in v.message and "cluster.gpuPool.count" in v.message


def test_conflicting_environments_apply_the_smallest_budget() -> None:
    gpu = res(POOL, pool(10, ["production"]))
    ns = res(
        "kubernetes:core/v1:Namespace",
        {"metadata": {"labels": {rules.ENVIRONMENT_LABEL: "staging"}}},
    )
    [v] = rules.check_gpu_pool_budget([gpu, ns], {})
    assert "staging budget is 4" in v.message


def test_a_pool_of_unknown_environment_is_rejected() -> None:
    [v] = rules.check_gpu_pool_budget([res(POOL, pool(2, ["vllm-platform"]))], {})
    assert "cannot tell which environment" in v.message


def test_non_gpu_pools_and_unknown_maxima_are_skipped() -> None:
    cpu = pool(50, ["production"])
    cpu["type"] = "g6-standard-4"
    unknown = pool(None, ["production"])
    unknown["autoscaler"] = UNKNOWN
    assert rules.check_gpu_pool_budget([res(POOL, cpu), res(POOL, unknown)], {}) == []


# ------------------------------------------------------------------- routed models registered


def test_a_routed_model_without_a_registry_entry_is_rejected() -> None:
    wl = res(STATEFULSET, server())
    [v] = rules.check_routed_models_registered([wl])
    assert v.urn == wl.urn and "no registry entry" in v.message and "routingEnabled" in v.message


def test_a_routed_model_with_its_entry_passes() -> None:
    resources = [res(STATEFULSET, server()), res(ENTRY, entry())]
    assert rules.check_routed_models_registered(resources) == []


def test_an_entry_for_another_environment_does_not_count() -> None:
    resources = [res(STATEFULSET, server()), res(ENTRY, entry(env="staging"))]
    messages = [v.message for v in rules.check_routed_models_registered(resources)]
    assert any("no registry entry" in m for m in messages)
    assert any("no vLLM workload in this stack serves it" in m for m in messages)


def test_an_unrouted_model_needs_no_entry() -> None:
    unrouted = server(annotations={"vllm-platform.io/routing-enabled": "false"})
    assert rules.check_routed_models_registered([res(STATEFULSET, unrouted)]) == []


def test_an_explicitly_routed_model_whose_entry_is_not_routed_is_rejected() -> None:
    routed = server(annotations={"vllm-platform.io/routing-enabled": "true"})
    resources = [res(STATEFULSET, routed), res(ENTRY, entry(routing=False))]
    [v] = rules.check_routed_models_registered(resources)
    assert "routing_enabled false" in v.message


def test_a_routed_entry_without_a_server_is_rejected() -> None:
    orphan = res(ENTRY, entry(model="gone"), "gone-registry")
    [v] = rules.check_routed_models_registered([orphan])
    assert v.urn == orphan.urn and "'gone'" in v.message
    unrouted_orphan = res(ENTRY, entry(model="gone", routing=False))
    assert rules.check_routed_models_registered([unrouted_orphan]) == []


def test_registry_schema_and_other_dynamic_resources_are_not_entries() -> None:
    schema = res("pulumi-python:dynamic/registry:RegistrySchema", {"database": "db"})
    resources = [res(STATEFULSET, server()), res(ENTRY, entry()), schema]
    assert rules.check_routed_models_registered(copy.deepcopy(resources)) == []
