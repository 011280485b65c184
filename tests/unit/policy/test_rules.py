"""policy/rules.py, resource rules: pinned images, vLLM containers, literal secrets in env."""

from __future__ import annotations

from typing import Any

import pytest

from components.contract import ENVIRONMENT_LABEL, image_is_pinned
from components.manifests.vllm.render import model_objects
from components.planning.capacity import plan_stack
from policy import objects, rules
from policy.values import UNKNOWN
from tests.support.stackfiles import stack_config
from tests.unit.policy.support import (
    DEPLOYMENT,
    NETPOL,
    STATEFULSET,
    container,
    netpol,
    server,
)

# ---------------------------------------------------------------------------- pinned image


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("vllm/vllm-openai:v0.11.0", True),
        ("vllm/vllm-openai@sha256:" + "a" * 64, True),
        ("ghcr.io:443/org/vllm:v1@sha256:" + "b" * 64, True),
        ("vllm/vllm-openai:latest", False),
        ("postgres:17.11-alpine3.24", True),
        *((f"vllm/vllm-openai:{tag}", False) for tag in ("Latest", "NIGHTLY", "main", "v0")),
        ("vllm/vllm-openai:latest-cu128", False),
        ("vllm/vllm-openai:nightly-2025.10.01", False),
        ("vllm/vllm-openai:latest@sha256:" + "c" * 64, True),  # the digest pins it
        ("vllm/vllm-openai", False),
        ("Not An Image", False),
        ("registry.example.com:5000/vllm", False),
    ],
)
def test_pinned_image_rule(image: str, pinned: bool) -> None:
    assert image_is_pinned(image) is pinned


def test_the_pack_recognises_the_labels_the_builders_write() -> None:
    """What the pack keys on is what the builders emit (both read components.contract)."""
    cfg = stack_config("production")
    model = cfg.models[0]
    plan = plan_stack(cfg).model(model.name)
    sts = next(o for o in model_objects(cfg, model, plan) if o["kind"] == "StatefulSet")
    for c in sts["spec"]["template"]["spec"]["containers"]:
        c["name"] = "renamed"  # recognised by its labels alone
    found = objects.vllm_workload(STATEFULSET, sts)
    assert found is not None
    assert objects.environment_of(found) == "production"
    assert found.labels[ENVIRONMENT_LABEL] == "production"


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
    assert objects.is_secret_env_name(name)


@pytest.mark.parametrize(
    "name",
    ["TOKENIZERS_PARALLELISM", "HF_HOME", "HF_TOKEN_PATH", "SECRET_NAME", "MAX_TOKENS", "KEYS"],
)
def test_non_credential_names_are_left_alone(name: str) -> None:
    assert not objects.is_secret_env_name(name)


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
