"""StackConfig: every committed stack accepted; bad input rejected with the offending key path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components.config import ConfigError, load_stack_config
from components.config.source import SECRET, load_from_stack_file
from components.planning.capacity import plan_stack
from tests.support.stackfiles import (
    committed_stack_files,
    raw_stack,
)

STACK_FILES = committed_stack_files(examples=True)


def base() -> dict[str, Any]:
    """A valid production config to mutate (prefix stripped, as the loader sees it)."""
    return raw_stack("production")


def errors_of(raw: dict[str, Any], secrets: set[str] | None = None) -> str:
    """Config validation, then planning's checks (memory fit), through the one ConfigError."""
    with pytest.raises(ConfigError) as info:
        plan_stack(load_stack_config(raw, secrets or set()).config)
    return str(info.value)


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_every_committed_stack_file_is_accepted(path: Path) -> None:
    loaded = load_from_stack_file(path)
    assert loaded.config.models


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(raw: dict[str, Any]) -> None:
        node: Any = raw
        parts = path.replace("]", "").replace("[", ".").split(".")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        last = parts[-1]
        if value is _DELETE:
            del node[last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return apply


_DELETE = object()

REJECTED: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("unknown top-level key", _set("modles", []), "modles: unknown key"),
    ("unknown nested key", _set("cluster.gpuPool.nodes", 3), "cluster.gpuPool.nodes: unknown key"),
    ("unknown model key", _set("models[1].replica", 2), "models[1].replica: unknown key"),
    ("bad environment", _set("environment", "prod"), "environment:"),
    ("namespace not DNS", _set("namespace", "Vllm_Prod"), "namespace:"),
    ("model name not DNS", _set("models[0].name", "Llama.3"), "models[0].name:"),
    ("model name too long", _set("models[0].name", "m" * 41), "models[0].name:"),
    ("model name starts with digit", _set("models[2].name", "7b-qwen"), "models[2].name:"),
    ("duplicate model names", _set("models[2].name", "llama-3-1-8b-instruct"), "models[2].name:"),
    (
        "image latest in production",
        _set("models[1].image", "vllm/vllm-openai:latest"),
        "models[1].image:",
    ),
    (
        "image tagless in production",
        _set("models[1].image", "vllm/vllm-openai"),
        "models[1].image:",
    ),
    ("image not a reference", _set("models[0].image", "not an image!"), "models[0].image:"),
    ("revision branch in production", _set("models[0].revision", "main"), "models[0].revision:"),
    ("replicas zero", _set("models[0].replicas", 0), "models[0].replicas:"),
    ("single replica in production", _set("models[1].replicas", 1), "models[1].replicas:"),
    ("gpus per replica 3", _set("models[0].gpusPerReplica", 3), "models[0].gpusPerReplica:"),
    (
        "gpus per replica above node",
        _set("models[0].gpusPerReplica", 4),
        "models[0].gpusPerReplica:",
    ),
    ("memory does not fit", _set("models[0].precision", "fp32"), "models[0].parametersBillions:"),
    (
        "utilization above 0.98",
        _set("models[1].gpuMemoryUtilization", 1.2),
        "models[1].gpuMemoryUtilization:",
    ),
    ("max model len tiny", _set("models[1].maxModelLen", 8), "models[1].maxModelLen:"),
    ("unknown precision", _set("models[1].precision", "int3"), "models[1].precision:"),
    (
        "extra flag overrides port",
        _set("models[1].extraArgs", ["--port=9000"]),
        "models[1].extraArgs[0]:",
    ),
    (
        "extra flag overrides tp (underscore)",
        _set("models[1].extraArgs", ["--tensor_parallel_size", "2"]),
        "models[1].extraArgs[0]:",
    ),
    (
        "extra flag overrides served name",
        _set("models[1].extraArgs", ["--served-model-name", "x"]),
        "models[1].extraArgs[0]:",
    ),
    (
        "extra args start with a value",
        _set("models[1].extraArgs", ["fp8"]),
        "models[1].extraArgs[0]:",
    ),
    ("too many GPUs for the pool", _set("models[1].replicas", 9), "models:"),
    ("unknown GPU plan", _set("cluster.gpuPool.type", "g2-gpu-rtx9000"), "cluster.gpuPool.type:"),
    (
        "autoscaler max below min",
        _set("cluster.gpuPool.autoscaler.max", 1),
        "cluster.gpuPool.autoscaler.max:",
    ),
    ("count outside autoscaler", _set("cluster.gpuPool.count", 9), "cluster.gpuPool.count:"),
    ("create without region", _set("cluster.region", _DELETE), "cluster.region:"),
    ("stack mode without reference", _set("cluster.mode", "stack"), "cluster.stackReference:"),
    ("bad k8s version", _set("cluster.k8sVersion", "1.33.2"), "cluster.k8sVersion:"),
    ("bad sslmode", _set("registry.sslmode", "on"), "registry.sslmode:"),
    ("plain password in registry", _set("registry.password", "hunter2"), "registry.password:"),
    (
        "plain token in extra args",
        _set("models[1].extraArgs", ["--hf-token=hf_abc"]),
        "models[1].extraArgs",
    ),
    ("plain api key at top level", _set("vllmApiKey", "sk-plain"), "vllmApiKey:"),
    (
        "router namespace not DNS",
        _set("network.apiRouter.namespace", "API"),
        "network.apiRouter.namespace:",
    ),
    ("gpu budget above pool", _set("gpuBudget", 99), "gpuBudget:"),
    ("missing models", _set("models", _DELETE), "models:"),
    ("empty models", _set("models", []), "models:"),
    (
        "autoscaling bounds exclude replicas",
        _set("models[1].autoscaling", {"minReplicas": 3, "maxReplicas": 4}),
        "models[1].replicas:",
    ),
    ("hf model id without org", _set("models[1].hfModelId", "llama"), "models[1].hfModelId:"),
    (
        "shared cache on block storage",
        _set("models[1].weightCache", {"mode": "shared"}),
        "models[1].weightCache.storageClass:",
    ),
    (
        "autoscaling max beyond the budget",
        _set("models[1].autoscaling", {"minReplicas": 2, "maxReplicas": 10}),
        "models[1].autoscaling.maxReplicas:",
    ),
    ("cluster id in create mode", _set("cluster.clusterId", "x"), "cluster.clusterId:"),
    ("empty control plane ACL", _set("cluster.controlPlaneAcl", []), "cluster.controlPlaneAcl:"),
    (
        "ACL entry not a CIDR",
        _set("cluster.controlPlaneAcl", ["office"]),
        "cluster.controlPlaneAcl[0]:",
    ),
    ("cpu mode with the CUDA image", _set("models[1].accelerator", "cpu"), "models[1].image:"),
    (
        "health reporter timeout",
        _set("healthReporter", {"timeoutSeconds": 30}),
        "healthReporter.timeoutSeconds:",
    ),
    (
        "unpinned-looking probe image",
        _set("healthReporter", {"probeImage": "Not An Image"}),
        "healthReporter.probeImage:",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [(m, e) for _, m, e in REJECTED], ids=[n for n, _, _ in REJECTED]
)
def test_rejected_config_names_the_offending_key(
    mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    raw = base()
    mutate(raw)
    assert expected in errors_of(raw)


def test_all_errors_are_reported_at_once() -> None:
    raw = base()
    raw["environment"] = "prod"
    raw["cluster"]["gpuPool"]["type"] = "nope"
    raw["models"][0]["gpusPerReplica"] = 3
    raw["models"][1]["name"] = "Bad_Name"
    message = errors_of(raw)
    for path in (
        "environment:",
        "cluster.gpuPool.type:",
        "models[0].gpusPerReplica:",
        "models[1].name:",
    ):
        assert path in message


def test_memory_error_says_what_would_fit() -> None:
    raw = base()
    raw["models"][0]["gpusPerReplica"] = 1
    raw["models"][0]["gpuMemoryUtilization"] = 0.8
    message = errors_of(raw)
    assert "needs ~79.9 GiB per replica" in message and "gives 76.8 GiB" in message
    assert (
        "would fit: a checkpoint stored at int4 (precision and checkpointPrecision int4), "
        "or gpusPerReplica 2" in message
    )


def test_secret_key_given_as_pulumi_secret_is_accepted_and_never_held() -> None:
    raw = base()
    raw["vllmApiKey"] = SECRET
    loaded = load_stack_config(raw, {"vllmApiKey"})
    assert "vllmApiKey" in loaded.secrets_set
    assert "vllmApiKey" not in loaded.missing_secrets
    assert "sk-" not in loaded.config.model_dump_json()


def test_missing_secrets_are_listed_not_errors() -> None:
    loaded = load_stack_config(base(), set())
    assert loaded.missing_secrets == [
        "hfToken",  # production serves meta-llama/* models, which are gated
        "vllmApiKey",
        "registryPassword",
        "registryWriterPassword",
        "registryReaderPassword",
    ]


def test_hf_token_is_required_exactly_when_a_model_is_gated() -> None:
    raw = base()
    assert load_stack_config(raw, set()).gated_models == [
        "llama-3-3-70b-instruct",
        "llama-3-1-8b-instruct",
    ]
    for m in raw["models"]:
        m["gated"] = False
    raw["models"][2]["gated"] = True  # any repo may be gated: the flag decides
    loaded = load_stack_config(raw, set())
    assert loaded.gated_models == ["qwen-2-5-7b-instruct"]
    assert "hfToken" in loaded.missing_secrets
    raw["models"][2]["gated"] = False
    assert "hfToken" not in load_stack_config(raw, set()).missing_secrets


def test_role_passwords_not_needed_when_roles_are_not_managed() -> None:
    raw = base()
    raw["registry"]["manageRoles"] = False
    loaded = load_stack_config(raw, set())
    assert "registryReaderPassword" not in loaded.missing_secrets
    # the health reporter still connects as the writer role
    assert "registryWriterPassword" in loaded.missing_secrets
    raw["healthReporter"] = {"enabled": False}
    assert "registryWriterPassword" not in load_stack_config(raw, set()).missing_secrets


def test_development_accepts_unpinned_image_and_branch_revision() -> None:
    raw = raw_stack("development")
    raw["models"][0]["image"] = "vllm/vllm-openai:latest"
    raw["models"][0]["revision"] = "main"
    assert load_stack_config(raw).config.models[0].image == "vllm/vllm-openai:latest"


def test_production_single_replica_allowed_with_explicit_downtime_flag() -> None:
    raw = base()
    raw["models"][1]["replicas"] = 1
    raw["models"][1]["allowDowntime"] = True
    assert load_stack_config(raw).config.models[1].replicas == 1


def test_defaults_resolve_from_the_model_only() -> None:
    cfg = load_stack_config(base()).config
    assert cfg.protected is True
    assert cfg.cluster.gpu_enablement_resolved == "device-plugin"
    raw = raw_stack("staging")
    staging = load_stack_config(raw).config
    assert staging.protected is False
    assert staging.cluster.gpu_enablement_resolved == "none"


def test_config_is_frozen() -> None:
    cfg = load_stack_config(base()).config
    with pytest.raises(Exception, match="frozen"):
        cfg.environment = "staging"  # type: ignore[misc]
