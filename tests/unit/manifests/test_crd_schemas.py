"""Custom resources (ServiceMonitor, PrometheusRule, ScaledObject) validate against their CRDs.

The cloudcoil models check types and patterns but ignore unknown keys; validating and dumping
back must give the object unchanged, so an unknown or misspelt key fails the test.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import pytest
from pydantic import BaseModel

from components.config import load_stack_config
from components.config.source import load_from_stack_file, read_stack_file
from components.manifests.vllm.render import model_objects
from components.planning.capacity import plan_stack
from tests.support.stackfiles import ROOT

# The CRD models are imported when a test first needs them, not at collection: the
# prometheus-operator package takes ~2.5 s to import (it builds every model of the operator);
# with ``make test``'s ``--dist loadfile`` only the worker running this file pays for it.
KINDS = ("ServiceMonitor", "PrometheusRule", "ScaledObject")


@functools.cache
def crd_model(kind: str) -> type[BaseModel]:
    from cloudcoil.models.keda.v1alpha1 import ScaledObject
    from cloudcoil.models.prometheus_operator.v1 import PrometheusRule, ServiceMonitor

    models: dict[str, type[BaseModel]] = {
        "ServiceMonitor": ServiceMonitor,
        "PrometheusRule": PrometheusRule,
        "ScaledObject": ScaledObject,
    }
    return models[kind]


STACK_FILES = [
    "Pulumi.development.yaml",
    "Pulumi.staging.yaml",
    "Pulumi.production.yaml",
    "examples/Pulumi.local.yaml",
]


def validate_strict(obj: dict[str, Any]) -> None:
    """Validate with the CRD's model and require a lossless round trip (no unknown keys)."""
    model = crd_model(obj["kind"]).model_validate(obj)
    back = model.model_dump(by_alias=True, exclude_unset=True, mode="json")
    if back != obj:
        raise ValueError(f"{obj['kind']}: keys unknown to the CRD or changed values: {back!r}")


def autoscaled_production() -> list[dict[str, Any]]:
    raw, secrets = read_stack_file(ROOT / "Pulumi.production.yaml")
    raw = copy.deepcopy(raw)
    raw["models"][1]["autoscaling"] = {"minReplicas": 2, "maxReplicas": 4}
    # 2 more 1-GPU replicas: a 2-GPU replica is placed in every arrangement from 9 nodes up
    raw["cluster"]["gpuPool"]["autoscaler"]["max"] = 9
    raw["cluster"]["installed"] = {"prometheusOperator": True, "keda": True}
    cfg = load_stack_config(raw, secrets).config
    m = cfg.models[1]
    return model_objects(cfg, m, plan_stack(cfg).model(m.name))


def custom_objects() -> list[Any]:
    out = []
    for file in STACK_FILES:
        cfg = load_from_stack_file(ROOT / file).config
        plan = plan_stack(cfg)
        for m in cfg.models:
            for o in model_objects(cfg, m, plan.model(m.name)):
                if o["kind"] in KINDS:
                    out.append(pytest.param(o, id=f"{file}:{m.name}:{o['kind']}"))
    for o in autoscaled_production():
        if o["kind"] in KINDS:
            out.append(pytest.param(o, id=f"production-operators:{o['kind']}"))
    return out


@pytest.mark.parametrize("obj", custom_objects())
def test_custom_resource_validates_against_its_crd(obj: dict[str, Any]) -> None:
    validate_strict(obj)


def test_every_custom_kind_is_covered() -> None:
    kinds = {p.values[0]["kind"] for p in custom_objects()}
    assert kinds == set(KINDS)


@pytest.mark.parametrize(
    ("kind", "path", "bad"),
    [
        ("ServiceMonitor", ("spec", "endpoints", 0), {"prot": "http"}),
        ("PrometheusRule", ("spec", "groups", 0, "rules", 0), {"severity": "critical"}),
        ("ScaledObject", ("spec",), {"minReplicas": 1}),
    ],
)
def test_strict_check_rejects_unknown_keys(
    kind: str, path: tuple[Any, ...], bad: dict[str, Any]
) -> None:
    obj = copy.deepcopy(next(p.values[0] for p in custom_objects() if p.values[0]["kind"] == kind))
    node: Any = obj
    for part in path:
        node = node[part]
    node.update(bad)
    with pytest.raises(ValueError, match="unknown"):
        validate_strict(obj)


def test_alerts_use_current_vllm_metric_names() -> None:
    raw, secrets = read_stack_file(ROOT / "Pulumi.production.yaml")
    raw["cluster"]["installed"] = {"prometheusOperator": True}
    cfg = load_stack_config(raw, secrets).config
    m = cfg.models[0]
    rule = next(
        o
        for o in model_objects(cfg, m, plan_stack(cfg).model(m.name))
        if o["kind"] == "PrometheusRule"
    )
    exprs = {r["alert"]: r["expr"] for r in rule["spec"]["groups"][0]["rules"]}
    assert "up{" in exprs["VllmServerDown"]
    assert "vllm:num_requests_waiting" in exprs["VllmRequestsWaiting"]
    assert exprs["VllmRequestsWaiting"].endswith("> 10")
    assert "vllm:kv_cache_usage_perc" in exprs["VllmKvCacheNearlyFull"]
    assert exprs["VllmKvCacheNearlyFull"].endswith("> 0.9")
    assert "vllm:time_to_first_token_seconds_bucket" in exprs["VllmTimeToFirstTokenHigh"]
    assert exprs["VllmTimeToFirstTokenHigh"].endswith("> 2")
    assert not any("gpu_cache_usage_perc" in e for e in exprs.values())
