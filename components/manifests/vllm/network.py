"""The model's Services and NetworkPolicies.

vLLM itself listens on the pod's loopback; the route allowlist (allowlist.py) serves one port
per caller, and the NetworkPolicy admits each caller to its own port only: the API router, this
model's smoke test and the ingress controller to the API port (``/v1/*``), the Prometheus pods
(by label) to the metrics port (``/metrics``), the health reporter to the health port
(``/health``; the kubelet's probes are not subject to NetworkPolicy). Egress: DNS and HTTPS (the
Hugging Face Hub) only.
"""

from __future__ import annotations

from components.config import VLLM_PORT, ModelConfig, MonitoringPeer, PeerSelector, StackConfig
from components.contract import COMPONENT_LABEL, HEALTH_PORT, METRICS_PORT
from components.manifests import health_reporter
from components.manifests.toolkit import NAMESPACE_LABEL, Manifest, dns_egress
from components.manifests.vllm.names import (
    HEALTH_PORT_NAME,
    HTTP_PORT_NAME,
    METRICS_PORT_NAME,
    PODS_COMPONENT,
    headless_service_name,
    metadata,
    selector_labels,
    served_selector_labels,
    smoke_selector_labels,
)

_PORT = [{"protocol": "TCP", "port": VLLM_PORT}]
_SERVICE_PORTS = {
    HTTP_PORT_NAME: VLLM_PORT,
    METRICS_PORT_NAME: METRICS_PORT,
    HEALTH_PORT_NAME: HEALTH_PORT,
}


def _service_ports() -> list[Manifest]:
    """The allowlist's three ports (vLLM's own port is on the loopback and has none)."""
    return [
        {"name": name, "port": port, "targetPort": name, "protocol": "TCP"}
        for name, port in _SERVICE_PORTS.items()
    ]


def service(cfg: StackConfig, model: ModelConfig) -> Manifest:
    """ClusterIP Service ``<model>``: the endpoint ``http://<model>.<ns>.svc...:8000/v1``."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(cfg, model, model.name),
        "spec": {
            "type": "ClusterIP",
            "selector": served_selector_labels(model),
            "ports": _service_ports(),
        },
    }


def headless_service(cfg: StackConfig, model: ModelConfig) -> Manifest:
    """``<model>-pods``: per-pod DNS. The StatefulSet's governing Service (stable pod names);
    for a Deployment, its name resolves to every ready pod's address, which is how the smoke
    test reaches each replica. Labelled apart so monitoring selects only the ClusterIP Service
    and does not scrape every pod twice."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(cfg, model, headless_service_name(model), PODS_COMPONENT),
        "spec": {
            "clusterIP": "None",
            "selector": served_selector_labels(model),
            "ports": _service_ports(),
        },
    }


def _namespace_peer(peer: PeerSelector | MonitoringPeer) -> Manifest:
    return {
        "namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: peer.namespace}},
        "podSelector": {"matchLabels": dict(peer.pod_selector)},
    }


def server_network_policy(cfg: StackConfig, model: ModelConfig) -> Manifest:
    api_peers: list[Manifest] = [
        _namespace_peer(cfg.network.api_router),
        # Same namespace (a podSelector alone means the policy's namespace).
        {"podSelector": {"matchLabels": smoke_selector_labels(model)}},
    ]
    if model.ingress is not None:
        api_peers.append(
            {
                "namespaceSelector": {
                    "matchLabels": {NAMESPACE_LABEL: model.ingress.controller_namespace}
                }
            }
        )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(cfg, model, model.name),
        "spec": {
            "podSelector": {"matchLabels": selector_labels(model)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": api_peers, "ports": _PORT},
                {
                    "from": [_namespace_peer(cfg.network.monitoring)],
                    "ports": [{"protocol": "TCP", "port": METRICS_PORT}],
                },
                {
                    "from": [
                        {
                            "podSelector": {
                                "matchLabels": {COMPONENT_LABEL: health_reporter.COMPONENT}
                            }
                        }
                    ],
                    "ports": [{"protocol": "TCP", "port": HEALTH_PORT}],
                },
            ],
            "egress": [
                dns_egress(),
                # Model downloads: the Hub and its CDN have no stable addresses.
                {
                    "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
                    "ports": [{"protocol": "TCP", "port": 443}],
                },
            ],
        },
    }


def smoke_network_policy(cfg: StackConfig, model: ModelConfig) -> Manifest:
    """The smoke-test pods may reach this model's pods (and DNS), nothing else."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(cfg, model, f"{model.name}-smoke", "smoke-test"),
        "spec": {
            "podSelector": {"matchLabels": smoke_selector_labels(model)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [
                dns_egress(),
                {"to": [{"podSelector": {"matchLabels": selector_labels(model)}}], "ports": _PORT},
            ],
        },
    }
