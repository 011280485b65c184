"""The model's Services and NetworkPolicies.

vLLM's API key protects ``/v1/*`` only; ``/invocations``, ``/tokenize``, ``/pooling``,
``/score``, ``/rerank``, ``/classify``, ``/metrics`` and ``/health`` answer anyone who can reach
port 8000 (components/data/vllm/v0.11.0/routes.json), so the NetworkPolicy is what keeps the
pods private: ingress only from the API router's pods, the Prometheus pods (by label), this
model's smoke test and the health reporter; egress to DNS and HTTPS (the Hugging Face Hub) only.
"""

from __future__ import annotations

from components.config import VLLM_PORT, ModelConfig, MonitoringPeer, PeerSelector, StackConfig
from components.contract import COMPONENT_LABEL
from components.manifests import health_reporter
from components.manifests.toolkit import NAMESPACE_LABEL, Manifest, dns_egress
from components.manifests.vllm.names import (
    HTTP_PORT_NAME,
    PODS_COMPONENT,
    headless_service_name,
    metadata,
    selector_labels,
    served_selector_labels,
    smoke_selector_labels,
)

_PORT = [{"protocol": "TCP", "port": VLLM_PORT}]


def _service_ports() -> list[Manifest]:
    return [
        {"name": HTTP_PORT_NAME, "port": VLLM_PORT, "targetPort": HTTP_PORT_NAME, "protocol": "TCP"}
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
    peers: list[Manifest] = [
        _namespace_peer(cfg.network.api_router),
        _namespace_peer(cfg.network.monitoring),
        # Same namespace (a podSelector alone means the policy's namespace).
        {"podSelector": {"matchLabels": smoke_selector_labels(model)}},
        {"podSelector": {"matchLabels": {COMPONENT_LABEL: health_reporter.COMPONENT}}},
    ]
    if model.ingress is not None:
        peers.append(
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
            "ingress": [{"from": peers, "ports": _PORT}],
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
