"""Deterministic object names and labels for one model's objects."""

from __future__ import annotations

import hashlib

from components.config import ModelConfig, StackConfig
from components.contract import REVISION_LABEL, SERVER_COMPONENT
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
    """Labels that select every server pod of the model, of each revision it runs (a stable
    subset: selectors are immutable): policies, the disruption budget."""
    return toolkit.selector(model.name, SERVER_COMPONENT)


def revision_slug(model: ModelConfig) -> str:
    """8 hex of the image and model revision the model serves."""
    return hashlib.sha256(f"{model.image}\n{model.revision}".encode()).hexdigest()[:8]


def revision_labels(model: ModelConfig) -> dict[str, str]:
    """The served revision's label, with rollout.keepPrevious only (no label otherwise, so a
    stack without it renders as before)."""
    return {REVISION_LABEL: revision_slug(model)} if model.rollout.keep_previous else {}


def served_selector_labels(model: ModelConfig) -> dict[str, str]:
    """Labels that select the pods of the revision the model serves: the Services and the
    workload (with keepPrevious the kept revision's pods are not selected)."""
    return selector_labels(model) | revision_labels(model)


def workload_name(model: ModelConfig) -> str:
    """The StatefulSet or Deployment: the model's name; with rollout.keepPrevious the name
    of the revision (``<model>-<slug>``), so the kept revision's workload and the new one
    live side by side and a rollback to the kept one finds it unchanged."""
    if model.rollout.keep_previous:
        return f"{model.name}-{revision_slug(model)}"
    return model.name


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
