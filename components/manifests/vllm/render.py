"""Every Kubernetes object of one model, as plain dicts in apply order.

Used by ``VllmDeployment`` (which registers exactly these) and by ``python -m ops render``.
"""

from __future__ import annotations

import copy

from components.config import ModelConfig, StackConfig
from components.manifests.toolkit import Manifest
from components.manifests.vllm.allowlist import config_map
from components.manifests.vllm.extras import ingress, scaled_object
from components.manifests.vllm.network import (
    headless_service,
    server_network_policy,
    service,
    smoke_network_policy,
)
from components.manifests.vllm.observability import (
    grafana_dashboard,
    prometheus_rule,
    service_monitor,
)
from components.manifests.vllm.smoke import smoke_job
from components.manifests.vllm.workload import pod_disruption_budget, shared_weights_claim, workload
from components.planning.capacity import ModelPlan

WORKLOAD_KINDS = frozenset({"StatefulSet", "Deployment"})


def model_objects(cfg: StackConfig, model: ModelConfig, plan: ModelPlan) -> list[Manifest]:
    """All objects for ``model`` in apply order; the smoke-test Job comes last.

    The result shares no mutable parts with the builders' constants or with each other.
    """
    server = workload(cfg, model, plan)
    candidates = [
        shared_weights_claim(cfg, model),
        service(cfg, model),
        headless_service(cfg, model),
        server_network_policy(cfg, model),
        smoke_network_policy(cfg, model),
        config_map(cfg, model),
        server,
        pod_disruption_budget(cfg, model),
        service_monitor(cfg, model),
        prometheus_rule(cfg, model, plan),
        grafana_dashboard(cfg, model),
        ingress(cfg, model),
        scaled_object(cfg, model),
        smoke_job(cfg, model, server),
    ]
    return copy.deepcopy([obj for obj in candidates if obj is not None])
