"""A model's LoRA adapters each get a RegistryEntry of their own (#26): the adapter's name, the
base model's endpoint, smoke Job, rollout and served fields, and the adapter's repository and
revision; registered once the base model's smoke test passed, like the base model's entry."""

from __future__ import annotations

import copy

import pytest

from tests.support.harness import run_program, stack_file_config

pytestmark = pytest.mark.program

ENTRY = "pulumi-python:dynamic/registry:RegistryEntry"
ROLLOUT = "pulumi-python:dynamic/registry:RegistryRollout"
ADAPTERS = [
    {"name": "sql-expert", "hfRepo": "org/sql-lora", "revision": "c" * 40},
    {"name": "support-bot", "hfRepo": "org/support-lora", "revision": "d" * 40},
]
SERVED = ("endpoint_url", "deployment_name", "image", "hf_model_id", "model_revision", "replicas")


def test_each_adapter_is_an_entry_served_and_gated_by_its_base_model() -> None:
    models = copy.deepcopy(stack_file_config("staging")["vllm-platform:models"])
    base = models[0]
    base["loraAdapters"] = ADAPTERS
    run = run_program("staging", overrides={"models": models})
    entries = {r.inputs["model_name"]: r for r in run.by_type(ENTRY)}
    [marker] = [r for r in run.by_type(ROLLOUT) if r.inputs["model_name"] == base["name"]]

    assert set(entries) == {m["name"] for m in models} | {a["name"] for a in ADAPTERS}
    own = entries[base["name"]]
    assert own.inputs.get("base_model_name") is None
    for adapter in ADAPTERS:
        entry = entries[adapter["name"]]
        assert entry.name == f"{adapter['name']}-registry"
        assert (
            entry.inputs["base_model_name"],
            entry.inputs["adapter_hf_repo"],
            entry.inputs["adapter_revision"],
        ) == (base["name"], adapter["hfRepo"], adapter["revision"])
        assert {k: entry.inputs[k] for k in SERVED} == {k: own.inputs[k] for k in SERVED}
        assert entry.inputs["smoke_evidence"] == own.inputs["smoke_evidence"]
        # Gated like the base model's entry: the endpoint waits for the smoke Job, and the
        # entry learns of every rollout its base model's marker started.
        assert (
            entry.property_dependencies["endpoint_url"] == own.property_dependencies["endpoint_url"]
        )
        assert marker.urn in entry.property_dependencies["rollout"]
        assert "connection" in entry.secret_inputs
