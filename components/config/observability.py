"""``observability``: monitoring objects per model."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from components.config.base import ConfigModel
from components.config.types import LabelMap


class ObservabilityConfig(ConfigModel):
    """Monitoring objects per model (switch off where the CRDs are missing)."""

    service_monitor: bool | None = Field(
        default=None,
        description=(
            "a ServiceMonitor per model (default: when cluster.installed.prometheusOperator)"
        ),
    )
    prometheus_rule: bool | None = Field(
        default=None,
        description=(
            "a PrometheusRule (alerts) per model (default: when "
            "cluster.installed.prometheusOperator)"
        ),
    )
    grafana_dashboard: bool = Field(default=True, description="a dashboard ConfigMap per model")
    dashboard_label: LabelMap = Field(
        default_factory=lambda: {"grafana_dashboard": "1"},
        description="label the Grafana sidecar watches for (default grafana_dashboard: 1)",
    )
    rule_labels: LabelMap = Field(
        default_factory=dict,
        description=(
            "extra labels on ServiceMonitors and PrometheusRules, for the Prometheus operator's "
            "selectors (kube-prometheus-stack selects release: <its release name>)"
        ),
    )
    prometheus_url: Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$")] | None = Field(
        default=None,
        description=(
            "Prometheus that KEDA queries (default: the operator's prometheus-operated Service "
            "in the monitoring namespace)"
        ),
    )
    waiting_requests_threshold: int = Field(
        default=10, ge=1, description="alert when more requests wait than this for 5 minutes"
    )
    kv_cache_usage_threshold: float = Field(
        default=0.9, gt=0, le=1, description="alert when KV cache usage stays above this"
    )
    ttft_p95_seconds: float = Field(
        default=2.0, gt=0, description="alert when time to first token p95 exceeds this"
    )
