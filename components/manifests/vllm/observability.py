"""ServiceMonitor, PrometheusRule and Grafana dashboard for one model (each switchable).

Metric names are vLLM's current ones (V1 engine): ``vllm:kv_cache_usage_perc`` replaced
``vllm:gpu_cache_usage_perc``. The ServiceMonitor adds ``namespace`` and ``service`` target
labels, which the queries below select on.
"""

from __future__ import annotations

import hashlib
import json

from components.config import ModelConfig, StackConfig
from components.manifests.vllm.names import (
    HTTP_PORT_NAME,
    SERVER_COMPONENT,
    Manifest,
    metadata,
)

__all__ = [
    "grafana_dashboard",
    "prometheus_rule",
    "selector",
    "service_monitor",
]


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
            "selector": {
                "matchLabels": {
                    "app.kubernetes.io/name": model.name,
                    "app.kubernetes.io/component": SERVER_COMPONENT,
                }
            },
            "namespaceSelector": {"matchNames": [cfg.namespace_name]},
            "endpoints": [
                {
                    "port": HTTP_PORT_NAME,
                    "path": "/metrics",
                    "interval": "15s",
                    "scrapeTimeout": "10s",
                }
            ],
        },
    }


def _rules(cfg: StackConfig, model: ModelConfig) -> list[Manifest]:
    obs = cfg.observability
    sel = selector(cfg, model)
    name = model.name
    return [
        {
            "alert": "VllmServerDown",
            "expr": f"sum(up{{{sel}}}) == 0 or absent(up{{{sel}}})",
            "for": "5m",
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": f"{name}: no vLLM replica is up",
                "description": f"No scrape target of {name} in {cfg.namespace_name} has "
                "answered /metrics for 5 minutes; the model is not serving.",
            },
        },
        {
            "alert": "VllmReplicaDown",
            "expr": f"up{{{sel}}} == 0",
            "for": "10m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": f"{name}: replica {{{{ $labels.pod }}}} is down",
                "description": "A vLLM replica has not answered /metrics for 10 minutes.",
            },
        },
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


def prometheus_rule(cfg: StackConfig, model: ModelConfig) -> Manifest | None:
    if not cfg.prometheus_rules:
        return None
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": _operator_metadata(cfg, model),
        "spec": {"groups": [{"name": f"vllm-{model.name}", "rules": _rules(cfg, model)}]},
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


def dashboard_json(cfg: StackConfig, model: ModelConfig) -> Manifest:
    sel = selector(cfg, model)

    def q(metric: str) -> str:
        return f"histogram_quantile(0.95, sum by (le) (rate({metric}_bucket{{{sel}}}[5m])))"

    panels = [
        _panel(
            1,
            "Requests",
            {
                "running": f"sum(vllm:num_requests_running{{{sel}}})",
                "waiting": f"sum(vllm:num_requests_waiting{{{sel}}})",
            },
            unit="short",
            x=0,
            y=0,
        ),
        _panel(
            2,
            "KV cache usage",
            {"{{pod}}": f"vllm:kv_cache_usage_perc{{{sel}}}"},
            unit="percentunit",
            x=12,
            y=0,
        ),
        _panel(
            3,
            "Latency p95",
            {
                "time to first token": q("vllm:time_to_first_token_seconds"),
                "end to end": q("vllm:e2e_request_latency_seconds"),
            },
            unit="s",
            x=0,
            y=8,
        ),
        _panel(
            4,
            "Tokens per second",
            {
                "prompt": f"sum(rate(vllm:prompt_tokens_total{{{sel}}}[5m]))",
                "generation": f"sum(rate(vllm:generation_tokens_total{{{sel}}}[5m]))",
            },
            unit="short",
            x=12,
            y=8,
        ),
    ]
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
        "panels": panels,
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
