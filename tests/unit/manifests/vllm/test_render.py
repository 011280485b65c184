"""Every object rendered for every committed stack validates against Kubernetes' schemas,
and no secret value can reach a rendered object."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml

from components.config import SECRET_KEYS, StackConfig, load_stack_config
from components.config.source import load_from_stack_file, read_stack_file
from components.manifests.vllm.render import model_objects
from components.planning.capacity import plan_stack
from tests.support.stackfiles import ROOT

STACK_FILES = [
    "Pulumi.development.yaml",
    "Pulumi.staging.yaml",
    "Pulumi.production.yaml",
    "examples/Pulumi.local.yaml",
]
CUSTOM_GROUPS = ("monitoring.coreos.com/", "keda.sh/")


def rendered(file: str) -> list[tuple[str, dict[str, Any]]]:
    cfg = load_from_stack_file(ROOT / file).config
    plan = plan_stack(cfg)
    return [
        (f"{file}:{m.name}:{o['kind']}/{o['metadata']['name']}", o)
        for m in cfg.models
        for o in model_objects(cfg, m, plan.model(m.name))
    ]


def _cases() -> list[Any]:
    return [
        pytest.param(obj, k8s_version(file), id=ident)
        for file in STACK_FILES
        for ident, obj in rendered(file)
        if not obj["apiVersion"].startswith(CUSTOM_GROUPS)
    ]


def k8s_version(file: str) -> str:
    return f"{load_from_stack_file(ROOT / file).config.cluster.k8s_version}.0"


@pytest.mark.parametrize(("obj", "version"), _cases())
def test_object_validates_strictly_for_the_cluster_version(
    obj: dict[str, Any], version: str
) -> None:
    kubernetes_validate.validate(obj, version, strict=True)


def test_strict_validation_rejects_an_unknown_field() -> None:
    (_, obj), *_ = [x for x in rendered("Pulumi.production.yaml") if x[1]["kind"] == "StatefulSet"]
    obj["spec"]["template"]["spec"]["containers"][0]["gpuCount"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(obj, "1.33.0", strict=True)


def test_local_example_is_a_valid_cpu_stack() -> None:
    loaded = load_from_stack_file(ROOT / "examples/Pulumi.local.yaml")
    cfg = loaded.config
    assert cfg.cluster.mode == "kubeconfig"
    assert cfg.environment == "development"
    assert [m.accelerator for m in cfg.models] == ["cpu"]
    assert plan_stack(cfg).gpus_needed == 0


def test_every_object_is_in_the_environment_namespace() -> None:
    for file in STACK_FILES:
        ns = load_from_stack_file(ROOT / file).config.namespace_name
        for ident, obj in rendered(file):
            assert obj["metadata"]["namespace"] == ns, ident


PLANTED = {key: f"PLANTED-{key}-s3cr3t-value-7f1c" for key in SECRET_KEYS}


def config_with_planted_secrets(file: str) -> StackConfig:
    raw, secrets = read_stack_file(ROOT / file)
    raw.update(PLANTED)
    return load_stack_config(raw, secrets | set(PLANTED)).config


@pytest.mark.parametrize("file", STACK_FILES)
def test_planted_secret_values_appear_in_no_rendered_object(file: str) -> None:
    cfg = config_with_planted_secrets(file)
    # Structurally: the config model has nowhere to keep a secret value...
    dumped_config = cfg.model_dump_json()
    assert not any(value in dumped_config for value in PLANTED.values())
    plan = plan_stack(cfg)
    text = yaml.safe_dump_all(
        [o for m in cfg.models for o in model_objects(cfg, m, plan.model(m.name))]
    )
    # ...and the manifests reference the Secrets by name only.
    for value in PLANTED.values():
        assert value not in text
    assert "secretKeyRef" in text


def test_the_scan_would_see_a_planted_value_in_a_manifest() -> None:
    cfg = config_with_planted_secrets("Pulumi.development.yaml")
    m = cfg.models[0]
    leaky = m.model_copy(update={"extra_args": ["--api-key-file", PLANTED["vllmApiKey"]]})
    text = yaml.safe_dump_all(model_objects(cfg, leaky, plan_stack(cfg).model(m.name)))
    assert PLANTED["vllmApiKey"] in text
