"""ServiceMonitor, PrometheusRule and Grafana dashboard for one model (each switchable).

Metric names are ones every vLLM version with contract data exports by default (V1 engine),
checked against each ``components/data/vllm/<version>/metrics.json`` by
tests/unit/test_vllm_versions.py (``vllm:kv_cache_usage_perc``, not the hidden or removed
``vllm:gpu_cache_usage_perc``). The ServiceMonitor adds ``namespace`` and ``service`` target
labels, which the queries below select on.
"""

from __future__ import annotations

import hashlib
import json

from components.config import ModelConfig, StackConfig
from components.manifests.toolkit import Manifest
from components.manifests.vllm.names import (
    METRICS_PORT_NAME,
    metadata,
    selector_labels,
)
from components.manifests.vllm.workload import rollout_timeouts
from components.planning.capacity import ModelPlan


def selector(cfg: StackConfig, model: ModelConfig) -> str:
    """PromQL label matchers for this model's scraped targets."""
    return f'namespace="{cfg.namespace_name}",service="{model.name}"'


def _operator_metadata(cfg: StackConfig, model: ModelConfig) -> Manifest:
    """Metadata plus ``observability.ruleLabels``, which the operator's selectors match on."""
    meta = metadata(cfg, model, model.name)
    meta["labels"] = {**cfg.observability.rule_labels, **meta["labels"]}
    return meta


def service_monitor(cfg: StackConfig, model: ModelConfig) -> Manifest | None:
    if not cfg.service_monitors:
        return None
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": _operator_metadata(cfg, model),
        "spec": {
            # Only the ClusterIP Service (the headless one is labelled pod-dns).
            "selector": {"matchLabels": selector_labels(model)},
            "namespaceSelector": {"matchNames": [cfg.namespace_name]},
            "endpoints": [
                {
                    # The allowlist's metrics port: GET /metrics and nothing else.
                    "port": METRICS_PORT_NAME,
                    "path": "/metrics",
                    "interval": "15s",
                    "scrapeTimeout": "10s",
                }
            ],
        },
    }


# A replica that went away (first start, or replaced by a rollout) may take this long before it
# answers /metrics again; shorter ``for`` durations on the "down" alerts would page on every
# normal start of a large model.
DOWN_GRACE_SECONDS = 5 * 60
# How far back "was serving" looks in VllmStoppedServing: longer than Prometheus' 5-minute
# staleness window, so a server whose targets vanished altogether is still seen as "was up".
WAS_SERVING_WINDOW = "30m"
STOPPED_SERVING_FOR = "3m"


def _duration(seconds: int) -> str:
    return f"{-(-seconds // 60)}m"


def down_for_seconds(cfg: StackConfig, model: ModelConfig) -> int:
    """The ``for`` of the alerts that a loading replica would trip: longer than one replica's
    whole start (scheduling, node scale-up, image pull, then the startup probe's budget),
    which is also how long Pulumi waits for it before failing the update."""
    per_pod, _ = rollout_timeouts(cfg, model)
    return per_pod + DOWN_GRACE_SECONDS


def availability_rules(cfg: StackConfig, model: ModelConfig, plan: ModelPlan) -> list[Manifest]:
    """Quiet through a first start and a rollout; firing when the model stops serving.

    * ``VllmServerDown``: no target up (or none at all) for longer than a replica's whole
      start, so a first start that never completes pages, a normal one does not.
    * ``VllmStoppedServing``, only when rollouts keep a replica serving (surge or one down at
      a time): no target is up *and* one was up within the last 30 minutes. A first start was
      never up, a rollout always leaves one up, so this can page within minutes.
    * ``VllmReplicaDown``: one replica down for longer than a replica's whole start.
    """
    sel = selector(cfg, model)
    name = model.name
    down_for = _duration(down_for_seconds(cfg, model))
    none_up = f"(sum(up{{{sel}}}) == 0 or absent(up{{{sel}}}))"
    rules: list[Manifest] = [
        {
            "alert": "VllmServerDown",
            "expr": none_up,
            "for": down_for,
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": f"{name}: no vLLM replica is up",
                "description": f"No scrape target of {name} in {cfg.namespace_name} has "
                f"answered /metrics for {down_for} (longer than a replica's start); the model "
                "is not serving.",
            },
        },
    ]
    if plan.strategy.zero_downtime:
        rules.append(
            {
                "alert": "VllmStoppedServing",
                "expr": f"{none_up} and on() "
                f"(max(max_over_time(up{{{sel}}}[{WAS_SERVING_WINDOW}])) == 1)",
                "for": STOPPED_SERVING_FOR,
                "labels": {"severity": "critical"},
                "annotations": {
                    "summary": f"{name}: stopped serving",
                    "description": f"{name} was serving within the last {WAS_SERVING_WINDOW} "
                    f"and no replica has answered /metrics for {STOPPED_SERVING_FOR}; its "
                    "rollouts always keep a replica up, so this is an outage.",
                },
            }
        )
    rules.append(
        {
            "alert": "VllmReplicaDown",
            "expr": f"up{{{sel}}} == 0",
            "for": down_for,
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": f"{name}: replica {{{{ $labels.pod }}}} is down",
                "description": f"A vLLM replica has not answered /metrics for {down_for}, "
                "longer than a replica's start.",
            },
        }
    )
    return rules


def _rules(cfg: StackConfig, model: ModelConfig, plan: ModelPlan) -> list[Manifest]:
    obs = cfg.observability
    sel = selector(cfg, model)
    name = model.name
    return [
        *availability_rules(cfg, model, plan),
        {
            "alert": "VllmRequestsWaiting",
            "expr": f"max by (pod) (vllm:num_requests_waiting{{{sel}}}) "
            f"> {obs.waiting_requests_threshold}",
            "for": "5m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": f"{name}: requests queue on {{{{ $labels.pod }}}}",
                "description": f"More than {obs.waiting_requests_threshold} requests have been "
                "waiting for 5 minutes; add replicas or lower the load.",
            },
        },
        {
            "alert": "VllmKvCacheNearlyFull",
            "expr": f"max by (pod) (vllm:kv_cache_usage_perc{{{sel}}}) "
            f"> {obs.kv_cache_usage_threshold:g}",
            "for": "10m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": f"{name}: KV cache above {obs.kv_cache_usage_threshold:.0%}",
                "description": "The KV cache has been nearly full for 10 minutes; requests "
                "are being preempted or queued.",
            },
        },
        {
            "alert": "VllmTimeToFirstTokenHigh",
            "expr": "histogram_quantile(0.95, sum by (le) "
            f"(rate(vllm:time_to_first_token_seconds_bucket{{{sel}}}[5m]))) "
            f"> {obs.ttft_p95_seconds:g}",
            "for": "10m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": f"{name}: p95 time to first token above {obs.ttft_p95_seconds:g}s",
                "description": "The 95th percentile time to first token over 5 minutes has "
                f"exceeded {obs.ttft_p95_seconds:g}s for 10 minutes.",
            },
        },
    ]


def prometheus_rule(cfg: StackConfig, model: ModelConfig, plan: ModelPlan) -> Manifest | None:
    if not cfg.prometheus_rules:
        return None
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": _operator_metadata(cfg, model),
        "spec": {"groups": [{"name": f"vllm-{model.name}", "rules": _rules(cfg, model, plan)}]},
    }


def _panel(
    panel_id: int, title: str, exprs: dict[str, str], *, unit: str, x: int, y: int
) -> Manifest:
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
            for i, (legend, expr) in enumerate(exprs.items())
        ],
    }


def _panels(cfg: StackConfig, model: ModelConfig) -> list[Manifest]:
    """Load, KV cache, latency and throughput, two panels a row."""
    sel = selector(cfg, model)

    def q(metric: str) -> str:
        return f"histogram_quantile(0.95, sum by (le) (rate({metric}_bucket{{{sel}}}[5m])))"

    requests = {
        "running": f"sum(vllm:num_requests_running{{{sel}}})",
        "waiting": f"sum(vllm:num_requests_waiting{{{sel}}})",
    }
    latency = {
        "time to first token": q("vllm:time_to_first_token_seconds"),
        "end to end": q("vllm:e2e_request_latency_seconds"),
    }
    tokens = {
        "prompt": f"sum(rate(vllm:prompt_tokens_total{{{sel}}}[5m]))",
        "generation": f"sum(rate(vllm:generation_tokens_total{{{sel}}}[5m]))",
    }
    kv_cache = {"{{pod}}": f"vllm:kv_cache_usage_perc{{{sel}}}"}
    return [
        _panel(1, "Requests", requests, unit="short", x=0, y=0),
        _panel(2, "KV cache usage", kv_cache, unit="percentunit", x=12, y=0),
        _panel(3, "Latency p95", latency, unit="s", x=0, y=8),
        _panel(4, "Tokens per second", tokens, unit="short", x=12, y=8),
    ]


def dashboard_json(cfg: StackConfig, model: ModelConfig) -> Manifest:
    return {
        # Grafana uids are at most 40 characters and global to the Grafana instance.
        "uid": "vllm-"
        + hashlib.sha256(f"{cfg.namespace_name}/{model.name}".encode()).hexdigest()[:20],
        "title": f"vLLM {model.name} ({cfg.environment})",
        "tags": ["vllm", cfg.environment],
        "timezone": "utc",
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Data source",
                }
            ]
        },
        "panels": _panels(cfg, model),
    }


def grafana_dashboard(cfg: StackConfig, model: ModelConfig) -> Manifest | None:
    """A ConfigMap the Grafana sidecar picks up by its label (``observability.dashboardLabel``)."""
    if not cfg.observability.grafana_dashboard:
        return None
    meta = metadata(cfg, model, f"{model.name}-dashboard", "dashboard")
    meta["labels"] = {**meta["labels"], **cfg.observability.dashboard_label}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "data": {
            f"vllm-{model.name}.json": json.dumps(
                dashboard_json(cfg, model), indent=2, sort_keys=True
            )
        },
    }
