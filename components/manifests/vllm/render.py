"""Every Kubernetes object of one model, as plain dicts in apply order.

Used by ``VllmDeployment`` (which registers exactly these) and by ``python -m ops render``.
"""

from __future__ import annotations

import copy
from datetime import datetime

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
from components.manifests.vllm.streamer import stage_objects
from components.manifests.vllm.workload import pod_disruption_budget, shared_weights_claim, workload
from components.planning.capacity import ModelPlan
from components.planning.keep_previous import kept_revision

WORKLOAD_KINDS = frozenset({"StatefulSet", "Deployment"})


def model_objects(
    cfg: StackConfig, model: ModelConfig, plan: ModelPlan, at: datetime | None = None
) -> list[Manifest]:
    """All objects for ``model`` in apply order; the smoke-test Job comes last (a streamed
    model's staging Job and its policy come before the server). With
    ``rollout.previous`` inside its window at ``at`` (default: now), the kept revision's
    workload comes first, built by the same builder as when it was served (``kept_workload``).

    The result shares no mutable parts with the builders' constants or with each other.
    """
    server = workload(cfg, model, plan)
    candidates = [
        kept_workload(cfg, model, plan, at),
        shared_weights_claim(cfg, model),
        service(cfg, model),
        headless_service(cfg, model),
        server_network_policy(cfg, model),
        smoke_network_policy(cfg, model),
        config_map(cfg, model),
        *stage_objects(cfg, model),
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


def kept_workload(
    cfg: StackConfig, model: ModelConfig, plan: ModelPlan, at: datetime | None = None
) -> Manifest | None:
    """The previous revision's StatefulSet or Deployment, kept serving during the window: what
    ``workload`` built while it was the served one (same name, labels and spec), so keeping
    it changes nothing and a rollback to it restarts nothing."""
    kept = kept_revision(model, at)
    return workload(cfg, kept, plan) if kept is not None else None


def kept_names(
    cfg: StackConfig, model: ModelConfig, plan: ModelPlan, at: datetime | None = None
) -> tuple[str, str] | None:
    """(workload, smoke Job) of the kept revision at ``at``: the registry's rollback target
    names them (the Job is the one that passed while it was served); None without one."""
    kept = kept_revision(model, at)
    if kept is None:
        return None
    server = workload(cfg, kept, plan)
    return str(server["metadata"]["name"]), str(smoke_job(cfg, kept, server)["metadata"]["name"])
