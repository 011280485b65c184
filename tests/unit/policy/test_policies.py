"""The pack as the engine runs it, without the CLI: the ``Policy`` objects of policy/policies.py
called with pulumi-policy's own argument types, and the committed stacks' objects (built by the
same pure builders the program registers) passing every policy.

``policy/__main__.py`` is never imported: constructing the ``PolicyPack`` starts a server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from components.config.source import load_from_stack_file
from components.manifests.namespace import environment_objects
from components.manifests.vllm.render import model_objects
from components.planning.capacity import plan_stack
from policy import policies
from policy.values import UNKNOWN
from tests.support.stackfiles import ROOT, STACKS

BY_NAME = {p.name: p for p in policies.POLICIES}


def k8s_type(obj: dict[str, Any]) -> str:
    api = str(obj["apiVersion"])
    return f"kubernetes:{'core/' + api if '/' not in api else api}:{obj['kind']}"


def opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], None, [], None)  # type: ignore[arg-type]


def resource_args(resource_type: str, props: dict[str, Any]) -> ResourceValidationArgs:
    return ResourceValidationArgs(
        resource_type,
        unknown_checking_proxy(props),
        f"urn:x::{resource_type}::r",
        "r",
        opts(),
        None,
    )


def stack_args(
    items: list[tuple[str, dict[str, Any]]], config: dict[str, Any] | None = None
) -> StackValidationArgs:
    resources = [
        PolicyResource(
            t, unknown_checking_proxy(p), f"urn:{i}", f"r{i}", opts(), None, None, [], {}
        )
        for i, (t, p) in enumerate(items)
    ]
    return StackValidationArgs(resources, config)


def run(policy_name: str, args: ResourceValidationArgs | StackValidationArgs) -> list[str]:
    reported: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        reported.append(message)

    policy = BY_NAME[policy_name]
    if isinstance(policy, ResourceValidationPolicy):
        assert isinstance(args, ResourceValidationArgs)
        policy.validate(args, report)
    else:
        assert isinstance(policy, StackValidationPolicy) and isinstance(args, StackValidationArgs)
        policy.validate(args, report)
    return reported


def stack_objects(stack: str) -> list[tuple[str, dict[str, Any]]]:
    """What the stack registers in Kubernetes and the registry, as (type, props)."""
    loaded = load_from_stack_file(ROOT / f"Pulumi.{stack}.yaml")
    cfg = loaded.config
    plans = {p.name: p for p in plan_stack(cfg).models}
    items = [(k8s_type(o), o) for o in environment_objects(cfg, hf_token_set=True)]
    for model in cfg.models:
        items += [(k8s_type(o), o) for o in model_objects(cfg, model, plans[model.name])]
        entry = {
            "model_name": model.name,
            "environment": cfg.environment,
            "routing_enabled": model.routing_enabled,
            "endpoint_url": UNKNOWN_STRING_VALUE,
        }
        items.append(("pulumi-python:dynamic/registry:RegistryEntry", entry))
    return items


# --------------------------------------------------------------------------------- the pack


def test_every_policy_is_mandatory_named_uniquely_and_described() -> None:
    assert len(BY_NAME) == len(policies.POLICIES) == 7
    for p in policies.POLICIES:
        assert p.enforcement_level is EnforcementLevel.MANDATORY
        assert p.description.endswith(".")


def test_the_gpu_budget_is_configurable_per_environment_with_defaults() -> None:
    schema = BY_NAME[policies.GPU_POOL_BUDGET].config_schema
    assert schema is not None
    assert {k: v["default"] for k, v in schema.properties.items()} == {
        "development": 4,
        "staging": 4,
        "production": 16,
    }
    assert policies.gpu_pool_budget_config({"production": 6, "staging": "x"}) == {
        "development": 4,
        "staging": 4,
        "production": 6,
    }


def test_the_budget_policy_reads_its_config() -> None:
    pool = {"type": "g3-gpu-rtxpro6000-blackwell-2", "nodeCount": 4, "tags": ["production"]}
    pool["autoscaler"] = {"min": 4, "max": 5}
    items = [("linode:index/lkeNodePool:LkeNodePool", pool)]
    assert run(policies.GPU_POOL_BUDGET, stack_args(items)) == []
    [message] = run(policies.GPU_POOL_BUDGET, stack_args(items, {"production": 4}))
    assert "production budget is 4" in message


def test_values_unknown_during_preview_do_not_abort_a_policy() -> None:
    items = stack_objects("production")
    for _, props in items:
        if props.get("kind") == "StatefulSet":
            props["metadata"]["namespace"] = UNKNOWN_STRING_VALUE
            props["spec"]["template"]["spec"]["containers"][0]["image"] = UNKNOWN_STRING_VALUE
    for name, policy in BY_NAME.items():
        if isinstance(policy, StackValidationPolicy):
            assert run(name, stack_args(items)) == [], name
    sts = next(p for t, p in items if t.endswith(":StatefulSet"))
    assert run("vllm-pinned-image", resource_args("kubernetes:apps/v1:StatefulSet", sts)) == []


def test_plain_copies_proxies_and_marks_unknowns() -> None:
    proxy = unknown_checking_proxy({"a": [1, UNKNOWN_STRING_VALUE], "b": UNKNOWN_STRING_VALUE})
    assert policies.plain(proxy) == {"a": [1, UNKNOWN], "b": UNKNOWN}


def test_a_violating_resource_is_reported_through_the_policy_object() -> None:
    [sts] = [p for t, p in stack_objects("production") if t.endswith(":StatefulSet")][:1]
    sts["spec"]["template"]["spec"]["containers"][0]["image"] = "vllm/vllm-openai:latest"
    sts["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "HF_TOKEN", "value": "hf_plain"}
    )
    args = resource_args("kubernetes:apps/v1:StatefulSet", sts)
    assert len(run("vllm-pinned-image", args)) == 1
    assert len(run("no-literal-secrets-in-env", args)) == 1


def test_a_stack_missing_its_network_policies_pdbs_and_entries_is_reported() -> None:
    items = [
        (t, p)
        for t, p in stack_objects("production")
        if not t.endswith((":NetworkPolicy", ":PodDisruptionBudget", ":RegistryEntry"))
    ]
    n_servers = sum(t.endswith((":StatefulSet", ":Deployment")) for t, _ in items)
    assert n_servers == 3
    assert len(run("vllm-network-policy", stack_args(items))) == n_servers
    assert len(run("vllm-production-availability", stack_args(items))) == n_servers
    assert len(run("routed-models-registered", stack_args(items))) == n_servers


# ----------------------------------------------------------------------- committed stacks


@pytest.mark.parametrize("stack", STACKS)
def test_the_committed_stacks_pass_every_policy(stack: str) -> None:
    items = stack_objects(stack)
    violations: list[str] = []
    for name, policy in BY_NAME.items():
        if isinstance(policy, StackValidationPolicy):
            violations += [f"{name}: {m}" for m in run(name, stack_args(items))]
        else:
            for resource_type, props in items:
                violations += [
                    f"{name}: {m}" for m in run(name, resource_args(resource_type, props))
                ]
    assert violations == []


# ---------------------------------------------------------------------- pack project files


def test_the_pack_project_file_runs_python_in_the_project_venv() -> None:
    spec = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert spec["runtime"]["name"] == "python"
    assert spec["runtime"]["options"]["virtualenv"] == "../.venv"
    assert (ROOT / "policy" / "__main__.py").exists()


def test_the_pack_pins_the_same_pulumi_as_the_program() -> None:
    def pins(path: Path) -> dict[str, str]:
        lines = [ln.split("#")[0].strip() for ln in path.read_text().splitlines()]
        return dict(ln.split("==", 1) for ln in lines if "==" in ln)

    pack = pins(ROOT / "policy" / "requirements.txt")
    program = pins(ROOT / "requirements.txt")
    assert pack["pulumi"] == program["pulumi"]
    assert pack["pulumi-policy"]
