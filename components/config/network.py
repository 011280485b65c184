"""``network``: who may reach the vLLM pods; everything else is denied."""

from __future__ import annotations

from pydantic import Field

from components.config.base import ConfigModel
from components.config.types import LabelMap, NamespaceName

__all__ = ["NetworkConfig", "PeerSelector"]


class PeerSelector(ConfigModel):
    """Pods (in a namespace) allowed to reach the vLLM servers."""

    namespace: NamespaceName = Field(description="namespace of the peer's pods")
    pod_selector: LabelMap = Field(
        default_factory=dict, description="pods in that namespace; empty: every pod"
    )


class NetworkConfig(ConfigModel):
    """Who may reach the vLLM pods: everything else is denied."""

    api_router: PeerSelector = Field(description="the API router's pods: may call vLLM")
    monitoring: PeerSelector = Field(
        default_factory=lambda: PeerSelector(namespace="monitoring"),
        description="the monitoring stack's pods: may scrape /metrics",
    )
