"""GpuCluster and EnvironmentNamespace in the real program, per committed stack and cluster mode."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pytest

from components.config import StackConfig, load_stack_config
from components.manifests.device_plugin import GPU_OPERATOR_REPO, GPU_OPERATOR_VERSION
from components.manifests.lke import EXTERNAL_POOL_TAG
from components.manifests.namespace import namespace_objects
from tests.support.harness import (
    FAKE_KUBECONFIG,
    PROJECT,
    TEST_SECRETS,
    ProgramRun,
    Registered,
    committed_run,
    run_program,
    stack_file_config,
)
from tests.support.stackfiles import STACKS

pytestmark = pytest.mark.program

LKE = "linode:index/lkeCluster:LkeCluster"
POOL = "linode:index/lkeNodePool:LkeNodePool"
K8S_PROVIDER = "pulumi:providers:kubernetes"
STACK_REF = "pulumi:pulumi:StackReference"
RELEASE = "kubernetes:helm.sh/v3:Release"

KUBECONFIG_MODE = {
    "mode": "kubeconfig",
    "kubeconfigPath": "~/.kube/vllm-local.yaml",
    "context": "kind-vllm",
    "gpuPool": {"type": "g2-gpu-rtx4000a1-m", "count": 4},
}
STACK_MODE = {  # production on a cluster of its own, made by a production cluster stack
    "mode": "stack",
    "stackReference": "organization/vllm-platform/production-cluster",
    "gpuPool": {"type": "g3-gpu-rtxpro6000-blackwell-2", "count": 7},
}


def config_of(stack: str, overrides: Mapping[str, Any] | None = None) -> StackConfig:
    full = {**stack_file_config(stack)}
    for key, value in (overrides or {}).items():
        full[f"{PROJECT}:{key}"] = value
    raw = {k.removeprefix(f"{PROJECT}:"): v for k, v in full.items()}
    return load_stack_config(raw).config


def provider_ref(run: ProgramRun) -> str:
    p = run.one(K8S_PROVIDER)
    return f"{p.urn}::{p.id}"


def k8s_objects(run: ProgramRun) -> list[Registered]:
    """Kubernetes objects of the cluster and namespace components (not the per-model ones)."""
    return [r for r in run.kubernetes() if r.typ != RELEASE and "::vllm-platform:infra:" in r.urn]


# ------------------------------------------------------------------------------ every stack


@pytest.mark.parametrize("stack", STACKS)
def test_every_kubernetes_resource_uses_the_clusters_provider(stack: str) -> None:
    run = committed_run(stack)
    ref = provider_ref(run)
    assert run.kubernetes()
    for r in run.kubernetes():
        assert r.provider == ref, r.name


@pytest.mark.parametrize("stack", STACKS)
def test_registered_objects_equal_the_builder_output(stack: str) -> None:
    run = committed_run(stack)
    expected = namespace_objects(
        config_of(stack),
        redact_secrets=False,
        hf_token=TEST_SECRETS["hfToken"],
        api_key=TEST_SECRETS["vllmApiKey"],
    )
    registered = {(r.inputs["kind"], r.k8s_name): r.inputs for r in k8s_objects(run)}
    assert registered == {(o["kind"], o["metadata"]["name"]): o for o in expected}


@pytest.mark.parametrize("stack", STACKS)
def test_components_use_their_type_tokens_and_parent_their_children(stack: str) -> None:
    run = committed_run(stack)
    cluster = run.one("vllm-platform:infra:GpuCluster", "cluster")
    env = run.one("vllm-platform:infra:EnvironmentNamespace", "environment")
    assert run.one(K8S_PROVIDER).parent == cluster.urn
    for r in k8s_objects(run):
        assert r.parent in (cluster.urn, env.urn)
        assert r.name.startswith("cluster-" if r.parent == cluster.urn else "environment-")


@pytest.mark.parametrize("stack", STACKS)
def test_secret_values_are_secret_inputs_and_never_plain_outputs(stack: str) -> None:
    run = committed_run(stack)
    secrets = {r.k8s_name: r for r in run.by_type("kubernetes:core/v1:Secret")}
    # The whole stringData map is serialized as a secret (a secret Output makes its map secret).
    assert secrets["vllm-api-key"].secret_inputs == ["stringData"]
    assert secrets["hf-token"].secret_inputs == ["stringData"]
    for s in secrets.values():
        assert {"data", "stringData"} <= set(s.additional_secret_outputs)
    plain = repr({k: v for k, v in run.outputs.items() if k not in run.secret_outputs})
    for value in TEST_SECRETS.values():
        assert value not in plain


@pytest.mark.parametrize("stack", STACKS)
def test_namespace_is_exported_from_the_namespace_resource(stack: str) -> None:
    run = committed_run(stack)
    assert run.outputs["namespace"] == stack_file_config(stack)[f"{PROJECT}:namespace"]


def test_hf_token_secret_is_only_created_when_the_token_is_set() -> None:
    secrets = {k: v for k, v in TEST_SECRETS.items() if k != "hfToken"}
    # Production serves meta-llama models (gated); declare them open to run without a token.
    models = [{**m, "gated": False} for m in stack_file_config("production")[f"{PROJECT}:models"]]
    run = run_program("production", secrets=secrets, overrides={"models": models})
    names = sorted(r.k8s_name for r in run.by_type("kubernetes:core/v1:Secret"))
    assert names == ["health-reporter-registry", "vllm-api-key"]


# ------------------------------------------------------------------------------ create mode


@pytest.mark.parametrize("stack", ["development", "production"])
def test_lke_cluster_arguments_follow_the_config(stack: str) -> None:
    cfg = config_of(stack).cluster
    run = committed_run(stack)
    lke = run.one(LKE, "cluster-lke").inputs
    assert lke["label"] == cfg.label
    assert lke["region"] == cfg.region
    assert lke["k8sVersion"] == cfg.k8s_version
    assert lke["tags"] == cfg.tags
    assert lke["externalPoolTags"] == [EXTERNAL_POOL_TAG]
    assert lke["controlPlane"]["highAvailability"] is cfg.high_availability
    assert lke["pools"] == [
        {"type": cfg.system_pool.type, "count": cfg.system_pool.count, "tags": cfg.tags}
    ]


def test_production_control_plane_acl_is_enabled_with_the_configured_cidrs() -> None:
    lke = committed_run("production").one(LKE).inputs
    assert lke["controlPlane"]["acl"] == {
        "enabled": True,
        "addresses": [{"ipv4s": ["203.0.113.0/24"]}],
    }


@pytest.mark.parametrize("stack", ["development", "production"])
def test_gpu_pool_arguments_follow_the_config(stack: str) -> None:
    pool_cfg = config_of(stack).cluster.gpu
    run = committed_run(stack)
    pool = run.one(POOL, "cluster-gpu-pool")
    assert pool.inputs["clusterId"] == 123456
    assert pool.inputs["type"] == pool_cfg.type
    assert pool.inputs["nodeCount"] == pool_cfg.count
    assert pool_cfg.autoscaler is not None
    assert pool.inputs["autoscaler"] == {
        "min": pool_cfg.autoscaler.min,
        "max": pool_cfg.autoscaler.max,
    }
    assert pool.inputs["labels"] == {"vllm-platform.io/gpu": "true"}
    assert pool.inputs["taints"] == [
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    ]
    assert EXTERNAL_POOL_TAG in pool.inputs["tags"]
    assert pool.ignore_changes == ["nodeCount"]
    assert run.by_urn(pool.parent).typ == "vllm-platform:infra:GpuCluster"


def test_fixed_size_pool_keeps_its_node_count_under_management() -> None:
    cluster = {**stack_file_config("production")[f"{PROJECT}:cluster"]}
    cluster["gpuPool"] = {"type": "g3-gpu-rtxpro6000-blackwell-2", "count": 7}
    pool = run_program("production", overrides={"cluster": cluster}).one(POOL)
    assert "autoscaler" not in pool.inputs
    assert pool.ignore_changes == []


def test_production_protects_cluster_pool_and_namespace() -> None:
    run = committed_run("production")
    assert run.one(LKE).protect
    assert run.one(POOL).protect
    ns = [r for r in run.by_type("kubernetes:core/v1:Namespace") if r.k8s_name == "vllm-production"]
    assert [r.protect for r in ns] == [True]


def test_development_protects_nothing() -> None:
    run = committed_run("development")
    assert not any(r.protect for r in run.resources)


def test_protect_false_in_production_config_lifts_protection() -> None:
    run = run_program("production", overrides={"protect": False})
    assert not run.one(LKE).protect and not run.one(POOL).protect


@pytest.mark.parametrize("stack", ["development", "production"])
def test_create_mode_exports_the_decoded_kubeconfig_as_a_secret(stack: str) -> None:
    run = committed_run(stack)
    assert run.outputs["kubeconfig"] == FAKE_KUBECONFIG
    assert "kubeconfig" in run.secret_outputs
    assert run.outputs["clusterId"] == "123456"
    assert "kubeconfig" in run.one(LKE).additional_secret_outputs


@pytest.mark.parametrize("stack", ["development", "production"])
def test_create_mode_provider_uses_the_lke_id_and_a_secret_kubeconfig(stack: str) -> None:
    provider = committed_run(stack).one(K8S_PROVIDER)
    assert provider.inputs["kubeconfig"] == FAKE_KUBECONFIG
    assert provider.inputs["clusterIdentifier"] == "123456"
    assert "kubeconfig" in provider.secret_inputs
    assert "kubeconfig" in provider.additional_secret_outputs


@pytest.mark.parametrize("stack", ["development", "production"])
def test_create_mode_deploys_the_device_plugin_on_gpu_nodes(stack: str) -> None:
    run = committed_run(stack)
    ds = run.one("kubernetes:apps/v1:DaemonSet", "cluster-daemonset-nvidia-device-plugin")
    pod = ds.inputs["spec"]["template"]["spec"]
    assert ds.inputs["metadata"]["namespace"] == "nvidia-device-plugin"
    assert pod["nodeSelector"] == {"vllm-platform.io/gpu": "true"}
    assert run.by_type(RELEASE) == []


def test_gpu_operator_is_a_pinned_helm_release_instead_of_the_device_plugin() -> None:
    cluster = {**stack_file_config("production")[f"{PROJECT}:cluster"]}
    cluster["gpuEnablement"] = "gpu-operator"
    run = run_program("production", overrides={"cluster": cluster})
    release = run.one(RELEASE, "cluster-gpu-operator")
    assert release.inputs["chart"] == "gpu-operator"
    assert release.inputs["version"] == GPU_OPERATOR_VERSION
    assert release.inputs["repositoryOpts"] == {"repo": GPU_OPERATOR_REPO}
    assert release.inputs["namespace"] == "gpu-operator"
    assert release.inputs["values"]["driver"] == {"enabled": False}
    assert release.provider == provider_ref(run)
    # The image pre-puller (a DaemonSet of its own component) is not GPU enablement.
    assert [r for r in run.by_type("kubernetes:apps/v1:DaemonSet") if "GpuCluster" in r.urn] == []


# ------------------------------------------------------------------------------- stack mode


def test_staging_attaches_through_a_stack_reference_without_linode_resources() -> None:
    run = committed_run("staging")
    ref = run.one(STACK_REF)
    assert ref.inputs["name"] == "organization/vllm-platform/development"
    assert run.by_type(LKE) == [] and run.by_type(POOL) == []
    assert not [r for r in run.resources if r.typ.startswith("linode:")]
    provider = run.one(K8S_PROVIDER)
    assert provider.inputs["kubeconfig"] == FAKE_KUBECONFIG
    assert "kubeconfig" in provider.secret_inputs
    assert provider.inputs["clusterIdentifier"] == "123456"  # the referenced stack's clusterId
    assert "kubeconfig" not in run.outputs


def test_staging_installs_no_gpu_enablement_on_the_shared_cluster() -> None:
    run = committed_run("staging")
    # The image pre-puller (a DaemonSet of its own component) is not GPU enablement.
    assert [r for r in run.by_type("kubernetes:apps/v1:DaemonSet") if "GpuCluster" in r.urn] == []
    assert run.by_type(RELEASE) == []


def test_stack_mode_without_cluster_id_uses_the_referenced_stacks_id() -> None:
    run = run_program("production", overrides={"cluster": STACK_MODE})
    assert run.one(K8S_PROVIDER).inputs["clusterIdentifier"] == "123456"
    assert run.one(STACK_REF).inputs["name"] == "organization/vllm-platform/production-cluster"


# -------------------------------------------------------------------------- kubeconfig mode


def test_kubeconfig_mode_registers_no_linode_resources_and_no_stack_reference() -> None:
    run = run_program("development", overrides={"cluster": KUBECONFIG_MODE})
    assert not [r for r in run.resources if r.typ.startswith("linode:")]
    assert run.by_type(STACK_REF) == []
    provider = run.one(K8S_PROVIDER)
    assert provider.inputs["kubeconfig"] == os.path.expanduser("~/.kube/vllm-local.yaml")
    assert provider.inputs["context"] == "kind-vllm"
    assert provider.inputs["clusterIdentifier"] == "kubeconfig:kind-vllm"
    ref = provider_ref(run)
    assert all(r.provider == ref for r in run.kubernetes())


def test_kubeconfig_mode_honours_a_configured_cluster_id() -> None:
    cluster = {**KUBECONFIG_MODE, "clusterId": "local-kind"}
    run = run_program("development", overrides={"cluster": cluster})
    assert run.one(K8S_PROVIDER).inputs["clusterIdentifier"] == "local-kind"
