"""Deterministic object names and labels for one model's objects."""

from __future__ import annotations

from components.config import ModelConfig, StackConfig
from components.contract import SERVER_COMPONENT
from components.manifests import toolkit
from components.manifests.toolkit import Manifest, standard_labels

HTTP_PORT_NAME = "http"
"""The route allowlist's API port (``/v1``): the router, the smoke test, the ingress."""
METRICS_PORT_NAME = "metrics"
HEALTH_PORT_NAME = "health"
SMOKE_COMPONENT = "smoke-test"
PODS_COMPONENT = "pod-dns"


def labels(
    cfg: StackConfig, model: ModelConfig, component: str = SERVER_COMPONENT
) -> dict[str, str]:
    """The standard ``app.kubernetes.io/*`` labels of one of the model's objects."""
    return standard_labels(model.name, component, cfg.environment)


def selector_labels(model: ModelConfig) -> dict[str, str]:
    """Labels that select the model's server pods (a stable subset: selectors are immutable)."""
    return toolkit.selector(model.name, SERVER_COMPONENT)


def smoke_selector_labels(model: ModelConfig) -> dict[str, str]:
    return toolkit.selector(model.name, SMOKE_COMPONENT)


def metadata(
    cfg: StackConfig,
    model: ModelConfig,
    name: str,
    component: str = SERVER_COMPONENT,
    annotations: dict[str, str] | None = None,
) -> Manifest:
    return toolkit.metadata(name, cfg.namespace_name, labels(cfg, model, component), annotations)


def headless_service_name(model: ModelConfig) -> str:
    """The headless Service: a StatefulSet's governing Service (stable pod DNS names), and for
    every workload the DNS name that lists each ready replica (the smoke test uses both)."""
    return f"{model.name}-pods"


def weights_claim_name(model: ModelConfig) -> str:
    return f"{model.name}-weights"
