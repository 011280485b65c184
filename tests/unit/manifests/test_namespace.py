"""components/manifests/namespace.py: the environment's objects, valid for its Kubernetes."""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest

from components.config import StackConfig, load_stack_config
from components.config.source import read_stack_file
from components.manifests.namespace import environment_objects, namespace_objects
from components.manifests.toolkit import REDACTED
from tests.support.stackfiles import ROOT, STACKS
from tests.support.stackfiles import stack_config as stack


def k8s_version(cfg: StackConfig) -> str:
    return f"{cfg.cluster.k8s_version}.0"


def by_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


@pytest.mark.parametrize("name", STACKS)
def test_every_object_validates_strictly_against_the_clusters_kubernetes(name: str) -> None:
    cfg = stack(name)
    objs = namespace_objects(cfg, hf_token="hf_x", api_key="sk-x")
    assert objs
    for obj in objs:
        kubernetes_validate.validate(obj, desired_version=k8s_version(cfg), strict=True)


def test_strict_validation_rejects_a_misspelled_field() -> None:
    cfg = stack("production")
    bad = copy.deepcopy(environment_objects(cfg)[1])
    bad["spec"]["hardd"] = bad["spec"].pop("hard")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, desired_version=k8s_version(cfg), strict=True)


def test_namespace_enforces_restricted_pod_security_and_carries_the_environment() -> None:
    cfg = stack("staging")
    (ns,) = by_kind(environment_objects(cfg), "Namespace")
    labels = ns["metadata"]["labels"]
    assert ns["metadata"]["name"] == "vllm-staging"
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce-version"] == "v1.33"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert labels["vllm-platform.io/environment"] == "staging"


@pytest.mark.parametrize(("name", "gpus"), [("development", 2), ("staging", 2), ("production", 14)])
def test_gpu_quota_caps_requests_at_the_environments_gpu_budget(name: str, gpus: int) -> None:
    cfg = stack(name)
    (quota,) = by_kind(environment_objects(cfg), "ResourceQuota")
    assert cfg.gpu_budget_resolved == gpus
    assert quota["spec"]["hard"] == {"requests.nvidia.com/gpu": str(gpus)}
    assert quota["metadata"]["namespace"] == cfg.namespace_name


def test_without_a_budget_the_quota_is_the_pools_autoscaler_maximum() -> None:
    raw, secrets = read_stack_file(ROOT / "Pulumi.development.yaml")
    raw = copy.deepcopy(raw)
    del raw["gpuBudget"]
    raw["cluster"]["gpuPool"] = {
        "type": "g2-gpu-rtx4000a2-m",
        "count": 1,
        "autoscaler": {"min": 1, "max": 3},
    }
    cfg = load_stack_config(raw, secrets).config
    (quota,) = by_kind(environment_objects(cfg), "ResourceQuota")
    assert quota["spec"]["hard"]["requests.nvidia.com/gpu"] == "6"


def test_limit_range_sets_default_requests_but_no_default_limits() -> None:
    (lr,) = by_kind(environment_objects(stack("production")), "LimitRange")
    (item,) = lr["spec"]["limits"]
    assert item["type"] == "Container"
    assert set(item["defaultRequest"]) == {"cpu", "memory"}
    assert "default" not in item


def test_default_deny_selects_every_pod_for_ingress_only() -> None:
    (np,) = by_kind(environment_objects(stack("production")), "NetworkPolicy")
    assert np["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}


def test_secrets_are_redacted_by_default() -> None:
    objs = environment_objects(stack("production"), hf_token="hf_real", api_key="sk-real")
    secrets = by_kind(objs, "Secret")
    assert {s["metadata"]["name"]: s["stringData"] for s in secrets} == {
        "hf-token": {"token": REDACTED},
        "vllm-api-key": {"api-key": REDACTED},
    }
    assert "hf_real" not in repr(objs) and "sk-real" not in repr(objs)


def test_secret_values_only_when_asked_not_to_redact() -> None:
    objs = environment_objects(
        stack("production"), redact_secrets=False, hf_token="hf_real", api_key="sk-real"
    )
    values = {s["metadata"]["name"]: s["stringData"] for s in by_kind(objs, "Secret")}
    assert values == {"hf-token": {"token": "hf_real"}, "vllm-api-key": {"api-key": "sk-real"}}


def test_hf_token_secret_exists_only_when_a_token_is_set() -> None:
    cfg = stack("production")
    without = [s["metadata"]["name"] for s in by_kind(environment_objects(cfg), "Secret")]
    offline = environment_objects(cfg, hf_token_set=True)
    assert without == ["vllm-api-key"]
    assert [s["metadata"]["name"] for s in by_kind(offline, "Secret")] == [
        "hf-token",
        "vllm-api-key",
    ]


def test_namespace_objects_add_gpu_enablement_only_where_it_is_enabled() -> None:
    created = namespace_objects(stack("development"))
    attached = namespace_objects(stack("staging"))
    assert [o["kind"] for o in created][:2] == ["Namespace", "DaemonSet"]
    assert attached == environment_objects(stack("staging"))


def test_every_namespaced_object_lives_in_the_environment_namespace() -> None:
    cfg = stack("production")
    for obj in environment_objects(cfg)[1:]:
        assert obj["metadata"]["namespace"] == "vllm-production"
