"""Helpers shared by the test modules beside this one."""

from __future__ import annotations

import copy
from typing import Any

from components.config import ModelConfig, StackConfig, load_stack_config
from components.config.source import read_stack_file
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
    **overrides: Any,
) -> tuple[StackConfig, ModelConfig, ModelPlan]:
    """A committed stack file with ``overrides`` applied to one model (camelCase keys), and
    the GPU pool's autoscaler maximum at ``max_nodes`` (room to place more replicas).

    ``operators``: the cluster has the Prometheus operator's and KEDA's CRDs.
    ``environment``: the stack's environment instead (its namespace the default for it).
    """
    raw, secrets = read_stack_file(ROOT / file)
    raw = copy.deepcopy(raw)
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
