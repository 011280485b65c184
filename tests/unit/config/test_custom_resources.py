"""Custom resources are configured only where their CRDs exist (cluster.installed)."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import ConfigError, load_stack_config
from tests.support.stackfiles import raw_stack


def _load(stack: str, patch: dict[str, Any]) -> Any:
    raw = raw_stack(stack)
    for section, values in patch.items():
        if section == "autoscaling":
            raw["models"][1]["autoscaling"] = values
        else:
            raw.setdefault(section, {}).update(values)
    return load_stack_config(raw, set())


def _paths(stack: str, patch: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        _load(stack, patch)
    return [i.path for i in info.value.issues]


@pytest.mark.parametrize(
    ("patch", "path"),
    [
        ({"observability": {"serviceMonitor": True}}, "observability.serviceMonitor"),
        ({"observability": {"prometheusRule": True}}, "observability.prometheusRule"),
        ({"autoscaling": {"minReplicas": 2, "maxReplicas": 3}}, "models[1].autoscaling"),
    ],
)
def test_a_custom_resource_on_a_created_cluster_needs_its_operator(
    patch: dict[str, Any], path: str
) -> None:
    assert _paths("production", patch) == [path]


def test_the_user_saying_the_operator_is_installed_allows_them() -> None:
    cfg = _load(
        "production",
        {
            "cluster": {"installed": {"prometheusOperator": True, "keda": True}},
            "autoscaling": {"minReplicas": 2, "maxReplicas": 3},
        },
    ).config
    assert cfg.service_monitors and cfg.prometheus_rules


def test_an_attached_cluster_has_them_only_when_told() -> None:
    """staging attaches to the cluster development creates, which has no CRDs of its own."""
    assert not _load("staging", {}).config.service_monitors
    told: dict[str, Any] = {"cluster": {"installed": {"prometheusOperator": True}}}
    assert _load("staging", told).config.service_monitors
    told = {"observability": {"serviceMonitor": True}}
    assert _paths("staging", told) == ["observability.serviceMonitor"]


def test_autoscaling_needs_something_that_scrapes_its_metric() -> None:
    """KEDA reads vllm:num_requests_waiting from Prometheus: with the operator's CRDs off and
    no prometheusUrl, nothing would ever scrape it and the model would never scale."""
    told: dict[str, Any] = {
        "cluster": {"installed": {"keda": True}},
        "autoscaling": {"minReplicas": 2, "maxReplicas": 3},
    }
    assert _paths("production", told) == ["models[1].autoscaling"]
    told["observability"] = {"prometheusUrl": "http://prometheus.monitoring.svc:9090"}
    assert _load("production", told).config.models[1].autoscaling is not None
    told = {"cluster": {"installed": {"keda": True, "prometheusOperator": True}}}
    told["autoscaling"] = {"minReplicas": 2, "maxReplicas": 3}
    assert _load("production", told).config.service_monitors
