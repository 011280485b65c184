"""Pure capacity planning: memory fit per model, GPU totals per stack, rollout strategy.

Memory model (deliberately simple and conservative, documented in the README):

    needed per replica = weights x 1.2 + 1 GiB per GPU
    weights            = parameters x bytes per parameter (by precision), in GiB
    available          = GPU memory x GPUs per replica x gpuMemoryUtilization

The 20 % covers activations, CUDA graphs and the sampler; the 1 GiB per GPU covers the CUDA
context and NCCL buffers. Whatever is left of ``available`` is KV cache; the plan prints it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from components.gpu_catalog import GPU_PLANS, GpuPlan, lookup_plan

if TYPE_CHECKING:
    from components.config import ModelConfig, StackConfig

__all__ = [
    "ACTIVATION_OVERHEAD",
    "BYTES_PER_PARAMETER",
    "PER_GPU_OVERHEAD_GIB",
    "MemoryFit",
    "ModelPlan",
    "Precision",
    "RolloutStrategy",
    "StackPlan",
    "fit_memory",
    "plan_stack",
    "suggest_fixes",
    "weight_memory_gib",
]

Precision = Literal["fp32", "bf16", "fp16", "fp8", "int8", "int4"]

BYTES_PER_PARAMETER: dict[str, float] = {
    "fp32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
}
ACTIVATION_OVERHEAD = 1.2
PER_GPU_OVERHEAD_GIB = 1.0
_GIB = 1024**3


def weight_memory_gib(parameters_billions: float, precision: str) -> float:
    return parameters_billions * 1e9 * BYTES_PER_PARAMETER[precision] / _GIB


@dataclass(frozen=True, slots=True)
class MemoryFit:
    weights_gib: float
    needed_gib: float
    available_gib: float

    @property
    def fits(self) -> bool:
        return self.needed_gib <= self.available_gib

    @property
    def kv_cache_gib(self) -> float:
        return max(0.0, self.available_gib - self.needed_gib)


def fit_memory(
    parameters_billions: float,
    precision: str,
    gpus_per_replica: int,
    gpu_memory_gib: float,
    gpu_memory_utilization: float,
) -> MemoryFit:
    weights = weight_memory_gib(parameters_billions, precision)
    needed = weights * ACTIVATION_OVERHEAD + PER_GPU_OVERHEAD_GIB * gpus_per_replica
    available = gpu_memory_gib * gpus_per_replica * gpu_memory_utilization
    return MemoryFit(weights_gib=weights, needed_gib=needed, available_gib=available)


def suggest_fixes(
    parameters_billions: float,
    precision: str,
    gpus_per_replica: int,
    plan: GpuPlan,
    gpu_memory_utilization: float,
) -> list[str]:
    """What would make a model that does not fit fit: quantize, more GPUs, or a larger plan."""
    out: list[str] = []
    smaller = [
        p
        for p, b in BYTES_PER_PARAMETER.items()
        if b < BYTES_PER_PARAMETER[precision]
        and fit_memory(
            parameters_billions, p, gpus_per_replica, plan.gpu_memory_gib, gpu_memory_utilization
        ).fits
    ]
    if smaller:
        best = max(smaller, key=lambda p: BYTES_PER_PARAMETER[p])
        out.append(f"quantize to precision {best}")
    for gpus in (2, 4, 8):
        if gpus > gpus_per_replica and gpus <= plan.gpus_per_node:
            fit = fit_memory(
                parameters_billions, precision, gpus, plan.gpu_memory_gib, gpu_memory_utilization
            )
            if fit.fits:
                out.append(f"gpusPerReplica {gpus}")
                break
    larger = sorted(
        (
            p
            for p in GPU_PLANS.values()
            if p.lke_supported
            and p.gpus_per_node >= gpus_per_replica
            and fit_memory(
                parameters_billions,
                precision,
                gpus_per_replica,
                p.gpu_memory_gib,
                gpu_memory_utilization,
            ).fits
        ),
        key=lambda p: (p.gpu_memory_gib, p.gpus_per_node, p.plan_id),
    )
    if larger:
        out.append(f"a plan with larger GPUs ({larger[0].plan_id})")
    return out


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
    Models whose workload cannot surge (per-replica weight caches, see components/vllm)
    do not take any.
    """
    plan = lookup_plan(cfg.cluster.gpu_pool.type)
    pool = cfg.cluster.gpu_pool
    needed = sum(_gpus_total(m) for m in cfg.models)
    spare = cfg.gpu_budget_resolved - needed
    models: list[ModelPlan] = []
    for m in cfg.models:
        gpus = 0 if m.accelerator == "cpu" else m.gpus_per_replica
        can_surge = m.supports_surge and spare >= gpus
        if can_surge:
            spare -= gpus
        fit = (
            None
            if m.accelerator == "cpu"
            else fit_memory(
                m.parameters_billions,
                m.precision,
                m.gpus_per_replica,
                plan.gpu_memory_gib,
                m.gpu_memory_utilization,
            )
        )
        models.append(
            ModelPlan(
                name=m.name,
                endpoint_url=cfg.endpoint_url(m.name),
                gpus_per_replica=gpus,
                replicas=m.replicas,
                gpus_total=_gpus_total(m),
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


def _gpus_total(m: ModelConfig) -> int:
    return 0 if m.accelerator == "cpu" else m.replicas * m.gpus_per_replica
