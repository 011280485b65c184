"""Pure capacity planning: memory fit per model, GPU totals per stack, rollout strategy.

``plan_stack`` is also the planning half of validation: a model that does not fit its GPUs is a
``ConfigIssue`` at ``models[i].parametersBillions`` (the config layer knows the plan's GPU count
and memory, planning owns the memory model in ``memory.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from components.config import ConfigError, ConfigIssue, ModelConfig, StackConfig
from components.config.gpu_plans import GpuPlan
from components.planning.memory import MemoryFit, fit_memory, suggest_fixes

__all__ = [
    "ModelPlan",
    "RolloutStrategy",
    "StackPlan",
    "memory_issues",
    "plan_stack",
]


class RolloutStrategy(StrEnum):
    """How a model's pods are replaced on an update."""

    SURGE = "surge"  # start one extra replica first (needs spare GPUs), then retire an old one
    ONE_DOWN = "one-down"  # take one replica down at a time; the others keep serving
    DOWNTIME = "downtime"  # the only replica is replaced: the model is unavailable meanwhile

    @property
    def zero_downtime(self) -> bool:
        return self is not RolloutStrategy.DOWNTIME


@dataclass(frozen=True, slots=True)
class ModelPlan:
    name: str
    endpoint_url: str
    gpus_per_replica: int
    replicas: int
    gpus_total: int
    fit: MemoryFit | None  # None in CPU mode
    strategy: RolloutStrategy
    surge_gpus: int  # GPUs held back for this model's surge replica


@dataclass(frozen=True, slots=True)
class StackPlan:
    plan: GpuPlan
    pool_min_nodes: int
    pool_max_nodes: int
    gpu_budget: int  # what this environment may use: its gpuBudget, else the whole pool
    models: tuple[ModelPlan, ...]

    @property
    def pool_max_gpus(self) -> int:
        return self.pool_max_nodes * self.plan.gpus_per_node

    @property
    def gpus_needed(self) -> int:
        return sum(m.gpus_total for m in self.models)

    @property
    def surge_gpus(self) -> int:
        return sum(m.surge_gpus for m in self.models)

    @property
    def spare_gpus(self) -> int:
        return self.gpu_budget - self.gpus_needed

    @property
    def nodes_needed(self) -> int:
        return math.ceil(self.gpus_needed / self.plan.gpus_per_node) if self.gpus_needed else 0

    def model(self, name: str) -> ModelPlan:
        for m in self.models:
            if m.name == name:
                return m
        raise KeyError(name)


def _strategy(replicas: int, can_surge: bool) -> RolloutStrategy:
    if can_surge:
        return RolloutStrategy.SURGE
    if replicas >= 2:
        return RolloutStrategy.ONE_DOWN
    return RolloutStrategy.DOWNTIME


def plan_stack(cfg: StackConfig) -> StackPlan:
    """Per model: GPUs, memory fit and rollout strategy; per stack: totals against the pool.

    Spare GPUs (the environment's GPU budget minus what every replica needs) are handed out in
    model order, one surge replica's worth at a time, so that all models rolling at once fit.
    Models whose workload cannot surge (per-replica weight caches: ModelConfig.uses_statefulset)
    do not take any.
    """
    issues = memory_issues(cfg)
    if issues:
        raise ConfigError(issues)
    pool = cfg.cluster.gpu_pool
    plan = pool.plan
    needed = sum(m.gpus_total for m in cfg.models)
    spare = cfg.gpu_budget_resolved - needed
    models: list[ModelPlan] = []
    for m in cfg.models:
        gpus = 0 if m.accelerator == "cpu" else m.gpus_per_replica
        can_surge = m.supports_surge and spare >= gpus
        if can_surge:
            spare -= gpus
        fit = None if m.accelerator == "cpu" else _fit(m, plan)
        models.append(
            ModelPlan(
                name=m.name,
                endpoint_url=cfg.endpoint_url(m.name),
                gpus_per_replica=gpus,
                replicas=m.replicas,
                gpus_total=m.gpus_total,
                fit=fit,
                strategy=_strategy(m.replicas, can_surge),
                surge_gpus=gpus if can_surge else 0,
            )
        )
    return StackPlan(
        plan=plan,
        pool_min_nodes=pool.min_nodes,
        pool_max_nodes=pool.max_nodes,
        gpu_budget=cfg.gpu_budget_resolved,
        models=tuple(models),
    )


def memory_issues(cfg: StackConfig) -> list[ConfigIssue]:
    """One issue per GPU model whose replica does not fit its GPUs' memory, with what would."""
    plan = cfg.cluster.gpu_pool.plan
    issues: list[ConfigIssue] = []
    for i, m in enumerate(cfg.models):
        if m.accelerator == "cpu" or m.gpus_per_replica > plan.gpus_per_node:
            continue
        fit = _fit(m, plan)
        if fit.fits:
            continue
        fixes = suggest_fixes(
            m.parameters_billions,
            m.precision,
            m.gpus_per_replica,
            plan,
            m.gpu_memory_utilization,
        )
        hint = "; would fit: " + ", or ".join(fixes) if fixes else ""
        issues.append(
            ConfigIssue(
                f"models[{i}].parametersBillions",
                f"{m.parameters_billions:g}B at {m.precision} needs ~{fit.needed_gib:.1f} "
                f"GiB per replica but {m.gpus_per_replica} x {plan.gpu_model} "
                f"({plan.gpu_memory_gib} GiB) at gpuMemoryUtilization "
                f"{m.gpu_memory_utilization:g} gives {fit.available_gib:.1f} GiB{hint}",
            )
        )
    return issues


def _fit(m: ModelConfig, plan: GpuPlan) -> MemoryFit:
    return fit_memory(
        m.parameters_billions,
        m.precision,
        m.gpus_per_replica,
        plan.gpu_memory_gib,
        m.gpu_memory_utilization,
    )
