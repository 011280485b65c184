"""Every PromQL expression the platform renders parses, names only metrics vLLM 0.11.0 exports,
and the availability alerts stay quiet through a normal start and rollout.

The metric contract is ``components/data/vllm/v0.11.0/metrics.json`` (series a default
``vllm serve`` of the pinned vLLM exports, taken from its source and a scrape of its registry);
``up`` is the series Prometheus itself writes per target.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest

from components.manifests.vllm.observability import (
    DOWN_GRACE_SECONDS,
    availability_rules,
    down_for_seconds,
)
from components.manifests.vllm.render import model_objects
from components.manifests.vllm.workload import (
    ROLLOUT_MARGIN_SECONDS,
    rollout_timeouts,
    startup_budget_seconds,
)
from components.planning.capacity import RolloutStrategy, plan_stack
from tests.support.stackfiles import ROOT, committed_stacks
from tests.unit.manifests.vllm.support import stack

CONTRACT = ROOT / "components" / "data" / "vllm" / "v0.11.0" / "metrics.json"
# Written by Prometheus for every target (https://prometheus.io/docs/concepts/jobs_instances/
# #automatically-generated-labels-and-time-series), not by vLLM.
PROMETHEUS_SERIES = frozenset({"up"})


def exported_series() -> frozenset[str]:
    data = json.loads(CONTRACT.read_text())
    assert data["vllm_version"] == "0.11.0"
    return frozenset(data["scraped"]["variants"]["default"]["series"])


def expressions(objects: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every alert rule, KEDA trigger and dashboard panel."""
    for obj in objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        if kind == "PrometheusRule":
            for group in obj["spec"]["groups"]:
                for rule in group["rules"]:
                    yield f"{name}/{rule['alert']}", rule["expr"]
        elif kind == "ScaledObject":
            for trigger in obj["spec"]["triggers"]:
                yield f"{name}/keda", trigger["metadata"]["query"]
        elif kind == "ConfigMap" and name.endswith("-dashboard"):
            for text in obj["data"].values():
                for panel in json.loads(text)["panels"]:
                    for target in panel["targets"]:
                        yield f"{name}/{panel['title']}", target["expr"]


def metric_names(expr: str) -> set[str]:
    """Every metric a PromQL expression selects (parsing it, which fails on a bad one)."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            assert node.name, f"{expr}: a selector without a metric name"
            names.add(str(node.name))

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def unknown_metrics(expr: str) -> set[str]:
    return metric_names(expr) - exported_series() - PROMETHEUS_SERIES


def all_objects() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    for name in committed_stacks():
        cfg, _, _ = stack(f"Pulumi.{name}.yaml")
        plans = plan_stack(cfg)
        for m in cfg.models:
            yield f"{name}/{m.name}", model_objects(cfg, m, plans.model(m.name))
    # KEDA is off in the committed stacks: render a model with it on.
    cfg, m, plan = stack(autoscaling={"minReplicas": 2, "maxReplicas": 2})
    yield "production+keda", model_objects(cfg, m, plan)


def test_the_contract_is_the_pinned_vllms_and_has_the_metrics_we_chart() -> None:
    series = exported_series()
    assert "vllm:num_requests_waiting" in series
    # Hidden in 0.11.0 unless --show-hidden-metrics-for-version is given.
    assert "vllm:gpu_cache_usage_perc" not in series


def test_every_expression_parses_and_uses_only_exported_metrics() -> None:
    seen: dict[str, int] = {"PrometheusRule": 0, "keda": 0, "dashboard": 0}
    for where, objects in all_objects():
        for place, expr in expressions(objects):
            assert not unknown_metrics(expr), (where, place, expr)
            key = "keda" if place.endswith("/keda") else "dashboard"
            key = "PrometheusRule" if "/Vllm" in place else key
            seen[key] += 1
    assert all(seen.values()), seen


@pytest.mark.parametrize(
    "expr",
    [
        'max(vllm:gpu_cache_usage_perc{service="m"})',  # hidden by default in 0.11.0
        'sum(rate(vllm:request_success_count{service="m"}[5m]))',  # the counter is _total
        'sum(rate(vllm:time_to_first_token_seconds{service="m"}[5m]))',  # histogram base name
    ],
)
def test_the_check_rejects_metrics_the_pinned_vllm_does_not_export(expr: str) -> None:
    assert unknown_metrics(expr)


def test_the_check_rejects_an_expression_that_does_not_parse() -> None:
    with pytest.raises(ValueError):
        metric_names("sum(up{service='m'}) ==")


# ------------------------------------------------------------------------- quiet and firing


def _rules(**overrides: Any) -> dict[str, dict[str, Any]]:
    cfg, m, plan = stack(**overrides)
    return {r["alert"]: r for r in availability_rules(cfg, m, plan)}


def _minutes(duration: str) -> int:
    assert duration.endswith("m")
    return int(duration[:-1])


def test_down_alerts_wait_longer_than_the_largest_models_whole_start() -> None:
    for name in committed_stacks():
        cfg, _, _ = stack(f"Pulumi.{name}.yaml")
        plans = plan_stack(cfg)
        largest = max(cfg.models, key=lambda x: (x.startup_timeout_minutes, x.parameters_billions))
        rules = {r["alert"]: r for r in availability_rules(cfg, largest, plans.model(largest.name))}
        start = startup_budget_seconds(largest) + ROLLOUT_MARGIN_SECONDS
        create, _ = rollout_timeouts(cfg, largest)
        for alert in ("VllmServerDown", "VllmReplicaDown"):
            wait = _minutes(rules[alert]["for"]) * 60
            # A first start (no target, then targets down while loading) and a replaced
            # replica both take at most `start`; Pulumi gives up at `create`.
            assert wait >= start + DOWN_GRACE_SECONDS, (name, alert, wait, start)
            assert wait > create


def test_a_longer_startup_budget_lengthens_the_down_alerts() -> None:
    short = _rules(startupTimeoutMinutes=15)["VllmServerDown"]["for"]
    long = _rules(startupTimeoutMinutes=40)["VllmServerDown"]["for"]
    assert _minutes(long) - _minutes(short) == 25


def test_the_fast_alert_needs_the_model_to_have_served_and_only_where_rollouts_keep_one_up() -> (
    None
):
    cfg, m, plan = stack()  # production: two replicas, one down at a time
    assert plan.strategy is not RolloutStrategy.DOWNTIME
    rules = {r["alert"]: r for r in availability_rules(cfg, m, plan)}
    fast = rules["VllmStoppedServing"]
    # No target up now...
    assert fast["expr"].startswith(rules["VllmServerDown"]["expr"])
    # ...and one was up within a window longer than Prometheus' 5-minute staleness, so a
    # first start (never up) stays quiet and vanished targets still count as "was up".
    assert 'and on() (max(max_over_time(up{namespace="vllm-production"' in fast["expr"]
    assert "[30m]" in fast["expr"]
    assert _minutes(fast["for"]) < _minutes(rules["VllmServerDown"]["for"])
    assert metric_names(fast["expr"]) == {"up"}

    # A single replica rolls out with downtime: "stopped serving" is then a normal rollout.
    cfg1, m1, plan1 = stack("Pulumi.staging.yaml")
    assert plan1.strategy is RolloutStrategy.DOWNTIME
    assert "VllmStoppedServing" not in {r["alert"] for r in availability_rules(cfg1, m1, plan1)}


def test_down_for_is_what_the_rules_render() -> None:
    cfg, m, plan = stack()
    rules = {r["alert"]: r for r in availability_rules(cfg, m, plan)}
    assert _minutes(rules["VllmServerDown"]["for"]) == -(-down_for_seconds(cfg, m) // 60)


def test_contract_file_is_committed_where_the_flags_issue_puts_it() -> None:
    assert CONTRACT.is_file()
    assert Path("components/data/vllm/v0.11.0/metrics.json") == CONTRACT.relative_to(ROOT)
