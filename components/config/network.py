"""``network``: who may reach the vLLM pods; everything else is denied.

vLLM's API key guards only paths under ``/v1`` (``AuthenticationMiddleware`` in
vllm/entrypoints/openai/api_server.py at v0.11.0; ``components/data/vllm/v0.11.0/routes.json``
lists every route and whether a request without the key gets a 401). ``/invocations`` (the chat
and completion handlers again), ``/tokenize``, ``/pooling``, ``/score``, ``/rerank``,
``/classify``, ``/metrics`` and ``/health`` answer anyone who reaches port 8000, so each peer
names its pods: an empty ``podSelector`` (every pod of the namespace) is refused.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from components.config.base import ConfigModel
from components.config.types import LabelMap, NamespaceName

# The Prometheus operator labels every Prometheus server pod app.kubernetes.io/name: prometheus
# (prometheus-operator, pkg/prometheus/server/statefulset.go, podSelectorLabels); that is what
# kube-prometheus-stack runs.
PROMETHEUS_POD_SELECTOR = {"app.kubernetes.io/name": "prometheus"}


def _not_every_pod(value: dict[str, str]) -> dict[str, str]:
    if not value:
        raise ValueError(
            "may not be empty: it would admit every pod of the namespace to the paths vLLM's "
            "API key does not guard (/invocations, /tokenize, /pooling, /score, ...); name the "
            "peer's pods by label"
        )
    return value


class PeerSelector(ConfigModel):
    """Pods (in a namespace) allowed to reach the vLLM servers."""

    namespace: NamespaceName = Field(description="namespace of the peer's pods")
    pod_selector: LabelMap = Field(description="labels of the peer's pods in that namespace")

    _named = field_validator("pod_selector")(_not_every_pod)


class MonitoringPeer(ConfigModel):
    """The scraper pods allowed to reach the vLLM port for ``/metrics``."""

    namespace: NamespaceName = Field(
        default="monitoring", description="namespace of the Prometheus pods"
    )
    pod_selector: LabelMap = Field(
        default_factory=lambda: dict(PROMETHEUS_POD_SELECTOR),
        description=(
            "labels of the Prometheus pods (default app.kubernetes.io/name: prometheus, as the "
            "Prometheus operator labels them)"
        ),
    )

    _named = field_validator("pod_selector")(_not_every_pod)


class NetworkConfig(ConfigModel):
    """Who may reach the vLLM pods: everything else is denied."""

    api_router: PeerSelector = Field(description="the API router's pods: may call vLLM")
    monitoring: MonitoringPeer = Field(
        default_factory=MonitoringPeer,
        description="the Prometheus pods: may scrape /metrics",
    )
