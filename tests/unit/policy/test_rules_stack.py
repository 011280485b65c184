"""policy/rules.py, stack rules: NetworkPolicies, availability, GPU budget, routed models."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.contract import ENVIRONMENT_LABEL
from policy import objects, rules
from policy.values import UNKNOWN
from tests.unit.policy.support import (
    DEPLOYMENT,
    ENTRY,
    NETPOL,
    PDB,
    POOL,
    STATEFULSET,
    entry,
    netpol,
    pdb,
    res,
    server,
)

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
    assert objects.selector_matches(sel, labels) is True
    sel = {"matchExpressions": [{"key": "c", "operator": "Exists"}]}
    assert objects.selector_matches(sel, labels) is False
    sel = {"matchExpressions": [{"key": "c", "operator": "DoesNotExist"}]}
    assert objects.selector_matches(sel, labels) is True
    assert objects.selector_matches({"matchLabels": {"a": UNKNOWN}}, labels) is None


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
        {"metadata": {"labels": {ENVIRONMENT_LABEL: "development"}}},
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
        {"metadata": {"labels": {ENVIRONMENT_LABEL: "staging"}}},
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
