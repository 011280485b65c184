"""Helpers shared by the test modules beside this one."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from components.config import ModelConfig, StackConfig, load_stack_config
from components.config.source import read_stack_file
from components.manifests.vllm.render import model_objects
from components.planning.capacity import ModelPlan, plan_stack
from tests.support.stackfiles import ROOT


def stack(
    file: str = "Pulumi.production.yaml",
    model: int = 0,
    drop_others: bool = False,
    max_nodes: int | None = None,
    operators: bool = True,
    *,
    environment: str | None = None,
    k8s_version: str | None = None,
    **overrides: Any,
) -> tuple[StackConfig, ModelConfig, ModelPlan]:
    """A committed stack file with ``overrides`` applied to one model (camelCase keys), and
    the GPU pool's autoscaler maximum at ``max_nodes`` (room to place more replicas).

    ``operators``: the cluster has the Prometheus operator's and KEDA's CRDs.
    ``environment``: the stack's environment instead (its namespace the default for it).
    ``k8s_version``: the cluster's Kubernetes version instead (``cluster.k8sVersion``).
    """
    raw, secrets = read_stack_file(ROOT / file)
    raw = copy.deepcopy(raw)
    if k8s_version is not None:
        raw["cluster"]["k8sVersion"] = k8s_version
    if environment is not None:
        raw["environment"] = environment
        raw.pop("namespace", None)
    if operators:
        raw["cluster"]["installed"] = {"prometheusOperator": True, "keda": True}
    if max_nodes is not None:
        raw["cluster"]["gpuPool"]["autoscaler"]["max"] = max_nodes
    models = copy.deepcopy(raw["models"])
    models[model].update(overrides)
    raw["models"] = [models[model]] if drop_others else models
    cfg = load_stack_config(raw, secrets).config
    name = models[model]["name"]
    m = next(x for x in cfg.models if x.name == name)
    return cfg, m, plan_stack(cfg).model(name)


def kinds(objs: list[dict[str, Any]]) -> list[str]:
    return [o["kind"] for o in objs]


def container(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]["containers"][0]  # type: ignore[no-any-return]


IMAGE = "vllm/vllm-openai:v0.32.0"
SERVED_REVISION = "0e9e39f249a16976918f6564b8830bc894c89659"
OLD_REVISION = "5206a32e0bd3067aef1ce90f5528ade7d866253f"  # the one replaced
UNTIL = "2026-12-06T12:00:00Z"
BEFORE = datetime(2026, 12, 6, 11, 59, tzinfo=UTC)
AFTER = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
# rollout.keepPrevious (test_keep_previous.py): the 8B (models[1]), 2 replicas of 1 GPU; 11
# nodes leave room for the kept replicas.
MODEL = 1


def kept_rollout(**rollout: Any) -> dict[str, Any]:
    previous = {"image": IMAGE, "revision": OLD_REVISION}
    return {"keepPrevious": 30, "previous": {**previous, "until": UNTIL}, **rollout}


def keep_previous_objects(at: datetime = BEFORE) -> list[dict[str, Any]]:
    """The 8B's objects while it keeps its previous revision (checkov scans them too)."""
    cfg, m, plan = stack(model=MODEL, max_nodes=11, rollout=kept_rollout())
    return model_objects(cfg, m, plan, at)


STREAM_BUCKET = "vllm-production-weights"


def stage_objects() -> list[dict[str, Any]]:
    """Every object of the 8B streaming from the bucket: its staging Job and NetworkPolicy,
    the streamed server and the rest (checkov scans them too)."""
    cfg, m, plan = stack(model=MODEL, weightSource={"kind": "objectStorage"})
    return model_objects(cfg, m, plan)
