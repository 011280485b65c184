"""VllmDeployment under Pulumi's mock runtime: it registers exactly what the builders produce."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pytest
from pulumi.runtime.sync_await import _sync_await

from components.config import ModelConfig, StackConfig, load_stack_config
from components.config.source import read_stack_file
from components.manifests.vllm.render import model_objects
from components.manifests.vllm.workload import startup_budget_seconds
from components.planning.capacity import plan_stack
from components.resources.vllm import TYPE_TOKEN, VllmDeployment, vllm_deployment_args
from tests.support.harness import Registered, mocked_run

pytestmark = pytest.mark.program
from tests.support.stackfiles import ROOT  # noqa: E402


@dataclass
class Run:
    resources: list[Registered]
    outputs: dict[str, Any]

    def children_of(self, component: Registered) -> list[Registered]:
        return [r for r in self.resources if r.parent == component.urn]


def load(file: str, patch: Callable[[dict[str, Any]], None] | None = None) -> StackConfig:
    raw, secrets = read_stack_file(ROOT / file)
    raw = copy.deepcopy(raw)
    if patch is not None:
        patch(raw)
    return load_stack_config(raw, secrets).config


def run_component(cfg: StackConfig, model: ModelConfig, namespace: str | None = None) -> Run:
    """Instantiate one VllmDeployment with an explicit provider inside a mocked Pulumi run."""
    made: dict[str, VllmDeployment] = {}

    def program() -> None:
        import pulumi_kubernetes as k8s

        provider = k8s.Provider("k8s", kubeconfig="{}")
        made["c"] = VllmDeployment(
            model.name,
            vllm_deployment_args(
                cfg, model, plan_stack(cfg).model(model.name), namespace or cfg.namespace_name
            ),
            opts=pulumi.ResourceOptions(provider=provider),
        )

    monitor = mocked_run(program, stack="test")
    c = made["c"]
    outputs = {
        name: _sync_await(getattr(c, name).future())
        for name in (
            "endpoint_url",
            "service_name",
            "workload_name",
            "smoke_test_job_name",
            "ready",
        )
    }
    return Run(resources=monitor.registered, outputs=outputs)


def production() -> StackConfig:
    return load("Pulumi.production.yaml")


def autoscaled_with_ingress() -> StackConfig:
    def patch(raw: dict[str, Any]) -> None:
        raw["models"][1]["autoscaling"] = {"minReplicas": 2, "maxReplicas": 4}
        # 2 more 1-GPU replicas: a 2-GPU replica is placed in every arrangement from 9 nodes up
        raw["cluster"]["gpuPool"]["autoscaler"]["max"] = 9
        raw["models"][1]["ingress"] = {"host": "llama.example.com"}
        raw["cluster"]["installed"] = {"prometheusOperator": True, "keda": True}

    return load("Pulumi.production.yaml", patch)


CASES = [
    pytest.param("Pulumi.production.yaml", 0, id="production-statefulset-tp2"),
    pytest.param("Pulumi.development.yaml", 1, id="development-statefulset"),
    pytest.param("examples/Pulumi.local.yaml", 0, id="local-cpu-deployment"),
]


def _k8s_children(run: Run) -> list[Registered]:
    return [r for r in run.resources if r.typ.startswith("kubernetes:") and r.custom]


@pytest.mark.parametrize(("file", "index"), CASES)
def test_component_registers_exactly_the_built_objects(file: str, index: int) -> None:
    cfg = load(file)
    model = cfg.models[index]
    run = run_component(cfg, model)
    expected = model_objects(cfg, model, plan_stack(cfg).model(model.name))
    registered = [r.inputs for r in _k8s_children(run)]
    key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
    assert sorted(registered, key=key) == sorted(expected, key=key)


def test_component_with_optional_objects_registers_them_too() -> None:
    cfg = autoscaled_with_ingress()
    model = cfg.models[1]
    run = run_component(cfg, model)
    kinds = {r.inputs["kind"] for r in _k8s_children(run)}
    assert {"Ingress", "ScaledObject", "ServiceMonitor", "PrometheusRule"} <= kinds
    expected = model_objects(cfg, model, plan_stack(cfg).model(model.name))
    assert len(_k8s_children(run)) == len(expected)
    workload = next(r for r in _k8s_children(run) if r.inputs["kind"] == "StatefulSet")
    assert workload.ignore_changes == ["spec.replicas"]


def test_outputs_carry_the_endpoint_and_names() -> None:
    cfg = production()
    model = cfg.models[0]
    run = run_component(cfg, model)
    job = next(r for r in _k8s_children(run) if r.inputs["kind"] == "Job")
    assert run.outputs == {
        "endpoint_url": "http://llama-3-3-70b-instruct.vllm-production.svc.cluster.local:8000/v1",
        "service_name": model.name,
        "workload_name": model.name,
        "smoke_test_job_name": job.k8s_name,
        "ready": True,
    }
    assert run.outputs["endpoint_url"] == cfg.endpoint_url(model.name)


def test_children_are_parented_to_the_component_and_use_its_provider() -> None:
    cfg = production()
    run = run_component(cfg, cfg.models[0])
    (component,) = [r for r in run.resources if r.typ == TYPE_TOKEN]
    assert component.name == cfg.models[0].name
    children = run.children_of(component)
    assert children and children == _k8s_children(run)
    (provider,) = [r for r in run.resources if r.typ == "pulumi:providers:kubernetes"]
    for child in children:
        assert child.provider == f"{provider.urn}::{provider.id}"
        assert child.name.startswith(f"{component.name}-")


def test_workload_timeouts_cover_the_startup_budget_and_nothing_skips_await() -> None:
    cfg = production()
    model = cfg.models[0]
    run = run_component(cfg, model)
    workload = next(r for r in _k8s_children(run) if r.inputs["kind"] == "StatefulSet")
    budget_min = startup_budget_seconds(model) / 60
    for op in ("create", "update"):
        assert float(workload.custom_timeouts[op].removesuffix("m")) >= budget_min
    assert "pulumi.com/skipAwait" not in json.dumps([r.inputs for r in run.resources])


def test_smoke_job_depends_on_the_server_service_and_policy() -> None:
    cfg = production()
    run = run_component(cfg, cfg.models[0])
    by_key = {(r.inputs["kind"], r.k8s_name): r for r in _k8s_children(run)}
    job = next(r for r in by_key.values() if r.inputs["kind"] == "Job")
    name = cfg.models[0].name
    needed = {
        by_key[("StatefulSet", name)].urn,
        by_key[("Service", name)].urn,
        # The headless Service: the Job reaches every replica through its names.
        by_key[("Service", f"{name}-pods")].urn,
        by_key[("NetworkPolicy", f"{name}-smoke")].urn,
    }
    assert needed <= set(job.dependencies)


def test_a_namespace_other_than_the_configs_fails_the_run() -> None:
    cfg = production()
    with pytest.raises(Exception, match="is not the config's namespace"):
        run_component(cfg, cfg.models[0], namespace="somewhere-else")
