"""Optional per-model objects: an Ingress with TLS, and a KEDA ScaledObject."""

from __future__ import annotations

from components.config import ModelConfig, StackConfig
from components.manifests.toolkit import Manifest
from components.manifests.vllm.names import HTTP_PORT_NAME, metadata, workload_name
from components.manifests.vllm.observability import selector


def ingress(cfg: StackConfig, model: ModelConfig) -> Manifest | None:
    """Direct HTTPS access to ``/v1`` only (``/metrics`` and ``/health`` stay in-cluster)."""
    ing = model.ingress
    if ing is None:
        return None
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata(
            cfg,
            model,
            model.name,
            annotations={"cert-manager.io/cluster-issuer": ing.cluster_issuer},
        ),
        "spec": {
            "ingressClassName": ing.class_name,
            "tls": [{"hosts": [ing.host], "secretName": f"{model.name}-tls"}],
            "rules": [
                {
                    "host": ing.host,
                    "http": {
                        "paths": [
                            {
                                "path": "/v1",
                                "pathType": "Prefix",
                                "backend": {
                                    "service": {
                                        "name": model.name,
                                        "port": {"name": HTTP_PORT_NAME},
                                    }
                                },
                            }
                        ]
                    },
                }
            ],
        },
    }


def prometheus_url(cfg: StackConfig) -> str:
    """``observability.prometheusUrl``, else the Prometheus the prometheus-operator runs in the
    monitoring namespace (``prometheus-operated`` is the Service the operator creates)."""
    if cfg.observability.prometheus_url is not None:
        return cfg.observability.prometheus_url
    return f"http://prometheus-operated.{cfg.network.monitoring.namespace}.svc.cluster.local:9090"


def scaled_object(cfg: StackConfig, model: ModelConfig) -> Manifest | None:
    """Scale on queued requests, within the bounds the GPU pool can hold."""
    auto = model.active_autoscaling
    if auto is None:
        return None
    query = f"sum(vllm:num_requests_waiting{{{selector(cfg, model)}}})"
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": metadata(cfg, model, model.name),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet" if model.uses_statefulset else "Deployment",
                "name": workload_name(model),
            },
            "minReplicaCount": auto.min_replicas,
            "maxReplicaCount": auto.max_replicas,
            "pollingInterval": 30,
            # A new replica takes minutes to load; do not give one back for a short lull.
            "cooldownPeriod": 900,
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {
                        "scaleDown": {
                            "stabilizationWindowSeconds": 900,
                            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 600}],
                        },
                        "scaleUp": {
                            "stabilizationWindowSeconds": 60,
                            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 300}],
                        },
                    }
                }
            },
            "triggers": [
                {
                    "type": "prometheus",
                    "metadata": {
                        "serverAddress": prometheus_url(cfg),
                        "query": query,
                        "threshold": str(auto.waiting_requests_target),
                    },
                }
            ],
        },
    }
