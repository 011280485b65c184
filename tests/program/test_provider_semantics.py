"""The rows of docs/provider-semantics.md, checked over what each stack really registers.

Runs the real program under mocks for every committed stack and the example stack, then checks
the registrations against what the providers do (components/manifests/k8s_semantics.py): a Job
the engine would re-await forever, an awaited object whose timeout is shorter than its pods'
startup budget, a custom resource without its CRD, a provider that replaces Secrets on rotation.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import pytest
import yaml

from components.config import load_stack_config
from components.config.source import read_stack_file
from components.manifests.k8s_semantics import (
    DEFAULT_AWAIT_SECONDS,
    REPLACE_UNREADY_ANNOTATION,
    awaits,
    crd_provider,
)
from components.manifests.vllm.smoke import SMOKE_ACTIVE_DEADLINE_SECONDS
from components.manifests.vllm.workload import startup_budget_seconds
from tests.support.harness import (
    ProgramRun,
    Registered,
    committed_run,
    run_program,
    stack_file_config,
)
from tests.support.stackfiles import ROOT, committed_stacks

pytestmark = pytest.mark.program

EXAMPLES = {"local": ROOT / "examples" / "Pulumi.local.yaml"}
STACK_NAMES = [*committed_stacks(), *EXAMPLES]


def _stack_path(stack: str) -> Any:
    return EXAMPLES.get(stack, ROOT / f"Pulumi.{stack}.yaml")


@functools.cache
def _run(stack: str) -> ProgramRun:
    config = None
    if stack in EXAMPLES:
        config = dict(yaml.safe_load(EXAMPLES[stack].read_text())["config"])
    return committed_run(stack) if config is None else run_program(stack, config=config)


def _config(stack: str) -> Any:
    raw, secrets = read_stack_file(_stack_path(stack))
    return load_stack_config(raw, secrets).config


def _minutes(timeout: str) -> float:
    assert timeout.endswith("m"), timeout
    return float(timeout.removesuffix("m"))


def _manifest(r: Registered) -> dict[str, Any]:
    return {k: r.inputs.get(k) for k in ("apiVersion", "kind", "metadata", "spec")}


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_every_job_is_replaced_when_it_did_not_complete(stack: str) -> None:
    jobs = [r for r in _run(stack).kubernetes() if r.inputs.get("kind") == "Job"]
    assert jobs
    for job in jobs:
        annotations = job.inputs["metadata"].get("annotations") or {}
        assert annotations.get(REPLACE_UNREADY_ANNOTATION) == "true", job.k8s_name


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_every_awaited_object_of_a_model_outlasts_its_startup_budget(stack: str) -> None:
    cfg = _config(stack)
    budgets = {m.name: startup_budget_seconds(m) / 60 for m in cfg.models}
    checked = 0
    for r in _run(stack).kubernetes():
        obj = _manifest(r)
        if not awaits(obj):
            continue
        model = (obj["metadata"].get("labels") or {}).get("app.kubernetes.io/name")
        if model not in budgets:
            # Not a model's object (device plugin, pre-puller): never less than the default.
            got = r.custom_timeouts.get("create")
            assert not got or _minutes(got) >= DEFAULT_AWAIT_SECONDS / 60, r.k8s_name
            continue
        need = budgets[model]
        if obj["kind"] == "Job":
            need = SMOKE_ACTIVE_DEADLINE_SECONDS / 60
        for op in ("create", "update"):
            got = r.custom_timeouts.get(op)
            got_min = _minutes(got) if got else DEFAULT_AWAIT_SECONDS / 60
            assert got_min > need, f"{obj['kind']} {r.k8s_name}: {op} {got_min}m <= {need}m"
        checked += 1
    assert checked >= 3 * len(cfg.models)  # workload, Service, smoke Job per model


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_every_kubernetes_provider_updates_secrets_and_config_maps_in_place(stack: str) -> None:
    providers = _run(stack).by_type("pulumi:providers:kubernetes")
    assert providers
    for p in providers:
        assert p.inputs.get("enableSecretMutable") == "true", p.inputs
        assert p.inputs.get("enableConfigMapMutable") == "true", p.inputs


def test_custom_resource_kinds_are_known() -> None:
    assert crd_provider({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor"})
    assert crd_provider({"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject"}) == "KEDA"
    assert crd_provider({"apiVersion": "apps/v1", "kind": "StatefulSet"}) is None
    assert crd_provider({"apiVersion": "v1", "kind": "Service"}) is None


_OPERATOR_OF_GROUP = {"monitoring.coreos.com": "prometheus_operator", "keda.sh": "keda"}


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_no_custom_resource_without_its_crd(stack: str) -> None:
    cfg = _config(stack)
    for r in _run(stack).kubernetes():
        obj = _manifest(r)
        if crd_provider(obj) is None:
            continue
        group = str(obj["apiVersion"]).rpartition("/")[0]
        assert group in _OPERATOR_OF_GROUP, f"{obj['kind']}: which config key says it exists?"
        assert cfg.cluster.has_crds_of(_OPERATOR_OF_GROUP[group]), f"{stack}: {obj['kind']}"
        if cfg.cluster.mode == "create":
            # On a cluster this stack creates, only because the user said so.
            assert getattr(cfg.cluster.installed, _OPERATOR_OF_GROUP[group]) is True


def test_a_created_cluster_registers_custom_resources_once_the_operators_are_installed() -> None:
    run = run_program(
        "production",
        overrides={
            "cluster": {
                **_stack_cluster("production"),
                "installed": {"prometheusOperator": True},
            }
        },
    )
    kinds = {r.inputs.get("kind") for r in run.kubernetes()}
    assert {"ServiceMonitor", "PrometheusRule"} <= kinds
    assert not {"ServiceMonitor", "PrometheusRule"} & {
        r.inputs.get("kind") for r in _run("production").kubernetes()
    }


def _stack_cluster(stack: str) -> dict[str, Any]:
    doc = yaml.safe_load(_stack_path(stack).read_text())
    return dict(doc["config"]["vllm-platform:cluster"])


DOC = ROOT / "docs" / "provider-semantics.md"


def _variant_runs() -> list[ProgramRun]:
    """Every committed stack, the example, and production with every optional object on."""
    cfg = stack_file_config("production")
    models = copy.deepcopy(cfg["vllm-platform:models"])
    models[1]["autoscaling"] = {"minReplicas": 2, "maxReplicas": 3}
    models[1]["ingress"] = {"host": "llama.example.com"}
    models[2]["weightCache"] = {"mode": "shared", "storageClass": "nfs-rwx"}
    models[0]["weightSource"] = {"kind": "objectStorage"}
    cluster = {
        **_stack_cluster("production"),
        "gpuEnablement": "gpu-operator",
        "installed": {"prometheusOperator": True, "keda": True},
    }
    cluster["gpuPool"] = {**cluster["gpuPool"], "autoscaler": {"min": 4, "max": 9}}  # placement
    everything = run_program("production", overrides={"models": models, "cluster": cluster})
    return [*(_run(s) for s in STACK_NAMES), everything]


def test_every_registered_type_has_a_row_in_the_semantics_table() -> None:
    doc = DOC.read_text(encoding="utf-8")
    seen: set[str] = set()
    for run in _variant_runs():
        for r in run.resources:
            if r.typ.startswith("vllm-platform:"):
                continue  # components: no provider behaviour of their own
            name = str(r.inputs.get("kind") or r.typ.rsplit(":", 1)[-1])
            if r.typ == "kubernetes:helm.sh/v3:Release":
                name = "helm Release"
            seen.add(name)
    missing = sorted(n for n in seen if n not in doc)
    assert not missing, f"docs/provider-semantics.md has no row for {missing}"
    assert {"Ingress", "ScaledObject", "PersistentVolumeClaim", "helm Release"} <= seen
