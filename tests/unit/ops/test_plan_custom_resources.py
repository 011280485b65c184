"""``ops plan`` says which custom resources a stack creates and which CRDs they need."""

from __future__ import annotations

from typing import Any

from components.config import load_stack_config
from components.planning.capacity import plan_stack
from ops.plan_report import format_plan
from tests.support.stackfiles import raw_stack


def _section(raw: dict[str, Any]) -> list[str]:
    loaded = load_stack_config(raw, set())
    text = format_plan(loaded, plan_stack(loaded.config), "stack").splitlines()
    [head] = [i for i, line in enumerate(text) if line.startswith("Custom resources:")]
    if text[head] != "Custom resources:":  # one item, on the heading's line
        return ["  - " + text[head].removeprefix("Custom resources: ")]
    end = next((i for i in range(head + 1, len(text)) if not text[i].startswith("  - ")), len(text))
    return text[head + 1 : end]


def test_a_created_cluster_plan_says_the_monitoring_objects_are_off_and_how_to_enable() -> None:
    (line,) = _section(raw_stack("production"))
    assert "no ServiceMonitor/PrometheusRule" in line
    assert "on a cluster this stack creates" in line
    assert "cluster.installed.prometheusOperator: true" in line


def test_a_cluster_with_the_operator_lists_the_custom_resources_and_their_crds() -> None:
    raw = raw_stack("staging")
    raw["cluster"]["installed"] = {"prometheusOperator": True}
    (line,) = _section(raw)
    assert line == (
        "  - ServiceMonitor, PrometheusRule per model: CRDs of the Prometheus operator "
        "(e.g. kube-prometheus-stack) (monitoring.coreos.com)"
    )


def test_scaled_objects_and_ingresses_are_listed_with_what_they_need() -> None:
    raw = raw_stack("production")
    raw["cluster"]["installed"] = {"prometheusOperator": True, "keda": True}
    raw["cluster"]["gpuPool"]["autoscaler"]["max"] = 8  # room to place the third replica
    raw["models"][1]["autoscaling"] = {"minReplicas": 2, "maxReplicas": 3}
    raw["models"][1]["ingress"] = {"host": "llama.example.com"}
    lines = "\n".join(_section(raw))
    name = raw["models"][1]["name"]
    assert f"ScaledObject for {name}: CRD of KEDA (keda.sh)" in lines
    assert f"Ingress for {name}" in lines and "ClusterIssuer letsencrypt" in lines
    assert "no ServiceMonitor" not in lines
