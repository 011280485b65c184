"""Pure capacity planning: memory per model, placement on the pool's nodes, concurrency, rollout.

``plan_stack`` is also the planning half of validation: every problem is a ``ConfigIssue``
naming the key to change; what only deserves attention is a caution on the plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from components.config import ConfigError, ConfigIssue, ModelConfig, StackConfig
from components.config.gpu_plans import GpuPlan
from components.planning.architecture import checkpoint_precision, loaded_precision, model_shape
from components.planning.checkpoints import stored_checkpoint_gib
from components.planning.keep_previous import keep_previous_issues, stack_kept_gpus
from components.planning.kv_cache import Concurrency
from components.planning.lora import LoraPlan
from components.planning.memory import (
    PER_GPU_OVERHEAD_GIB,
    LoadFit,
    MemoryFit,
    fit_load,
    fit_memory,
    suggest_fixes,
)
from components.planning.model_checks import (
    cache_checks,
    concurrency_issues,
    model_concurrency,
    model_lora,
    precision_issues,
    weight_cache_gi,
)
from components.planning.object_storage import connection_issues
from components.planning.placement import (
    PlacementCheck,
    PoolDemand,
    check_placement,
    fits_worst_case,
)


class RolloutStrategy(StrEnum):
    """How a model's pods are replaced on an update."""

    SURGE = "surge"  # start one extra replica first (needs spare GPUs), then retire an old one
    ONE_DOWN = "one-down"  # take one replica down at a time; the others keep serving
    DOWNTIME = "downtime"  # the only replica is replaced: the model is unavailable meanwhile
    # rollout.restart allAtOnce: every replica is replaced at once, none serves meanwhile
    ALL_AT_ONCE = "all-at-once"

    @property
    def zero_downtime(self) -> bool:
        return self not in (RolloutStrategy.DOWNTIME, RolloutStrategy.ALL_AT_ONCE)


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
    load: LoadFit | None  # peak per GPU while loading; None in CPU mode
    checkpoint_precision: str
    concurrency: Concurrency | None  # None when the model's shape is unknown
    weight_cache_gi: int
    lora: LoraPlan | None = None  # None without LoRA adapters


@dataclass(frozen=True, slots=True)
class StackPlan:
    plan: GpuPlan
    pool_min_nodes: int
    pool_max_nodes: int
    pool_max_gpus: int  # the pool at the autoscaler's maximum (GpuPool.max_gpus)
    gpu_budget: int  # what this environment may use: its gpuBudget, else the whole pool
    models: tuple[ModelPlan, ...]
    placement: tuple[PlacementCheck, ...]
    demand: PoolDemand  # GPUs that may be held on the pool at once
    cautions: tuple[str, ...]

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


# A stack whose models all run on CPU has no GPU pool; its plan stands in (no GPUs, no memory).
NO_GPU_PLAN = GpuPlan("none", "no GPU", 0, 0)


def _gpu_plan(cfg: StackConfig) -> GpuPlan:
    pool = cfg.cluster.gpu_pool
    return pool.plan if pool is not None else NO_GPU_PLAN


def _strategy(m: ModelConfig, can_surge: bool) -> RolloutStrategy:
    if m.rollout.all_at_once:
        return RolloutStrategy.ALL_AT_ONCE
    if can_surge:
        return RolloutStrategy.SURGE
    if m.replicas >= 2:
        return RolloutStrategy.ONE_DOWN
    return RolloutStrategy.DOWNTIME


def plan_stack(cfg: StackConfig) -> StackPlan:
    """Per model: GPUs, memory at load and serving, concurrency and rollout strategy; per stack:
    totals against the pool and worst-case placement on its nodes."""
    pool = cfg.cluster.gpu_pool
    plan = _gpu_plan(cfg)
    issues = memory_issues(cfg) + keep_previous_issues(cfg) + connection_issues(cfg)
    cautions: list[str] = []
    for i, m in enumerate(cfg.models):
        model_issues, model_cautions = _model_findings(i, m, plan)
        issues += model_issues
        cautions += model_cautions
    models = [_model_plan(cfg, m, surge) for m, surge in zip(cfg.models, _surges(cfg), strict=True)]
    demand = pool_demand(cfg, models)
    placement = (
        []
        if pool is None
        else check_placement(
            demand,
            plan,
            pool.max_nodes,
            others_follow_pool=_others_follow_pool(cfg),
            nodes_key="cluster.gpuPool." + ("autoscaler.max" if pool.autoscaler else "count"),
        )
    )
    issues += placement_issues(cfg, placement)
    if demand.others:
        cautions.append(
            f"placement assumes the other namespaces on this GPU pool request at most "
            f"{demand.others} GPUs (otherNamespacesGpuBudget"
            + (")" if cfg.other_namespaces_gpu_budget is not None else ", default: the rest")
            + " and nothing else requests GPUs on its nodes"
        )
    if issues:
        raise ConfigError(issues)
    return StackPlan(
        plan=plan,
        pool_min_nodes=pool.min_nodes if pool is not None else 0,
        pool_max_nodes=pool.max_nodes if pool is not None else 0,
        pool_max_gpus=pool.max_gpus if pool is not None else 0,
        gpu_budget=cfg.gpu_budget_resolved,
        models=tuple(models),
        placement=tuple(placement),
        demand=demand,
        cautions=tuple(cautions),
    )


def _model_findings(i: int, m: ModelConfig, plan: GpuPlan) -> tuple[list[ConfigIssue], list[str]]:
    """One model's own issues and cautions: precision, weight cache, concurrency, catalog."""
    cache_issues, cautions = cache_checks(i, m)
    issues = [*precision_issues(i, m), *cache_issues]
    if m.accelerator == "cpu" or _fit(m, plan).fits:
        issues += concurrency_issues(i, m, plan)
    # Flags that size the KV cache themselves (--kv-cache-memory-bytes,
    # --num-gpu-blocks-override) are refused by config/vllm_args.py, so these figures hold.
    if model_shape(m) is None:
        cautions = [
            *cautions,
            f"models[{i}].architecture: {m.hf_model_id} is not in the architecture catalog; "
            "set architecture.numHiddenLayers, numKeyValueHeads and headDim (config.json) "
            "to check its concurrency",
        ]
    return issues, cautions


def _surges(cfg: StackConfig) -> list[bool]:
    """Per model, whether it may surge. Spare GPUs (the environment's GPU budget minus what every
    replica needs) are handed out in model order, one surge replica's worth at a time, so that
    all models rolling at once fit the budget and can still be placed on the pool's nodes in
    every arrangement. Models whose workload cannot surge (per-replica weight caches:
    ModelConfig.uses_statefulset) and models replaced all at once (rollout.restart) take none."""
    # The previous revisions kept serving (rollout.keepPrevious) come first: a rollback target.
    spare = cfg.gpu_budget_resolved - sum(m.gpus_total for m in cfg.models) - stack_kept_gpus(cfg)
    held = 0
    out: list[bool] = []
    for m in cfg.models:
        gpus = 0 if m.accelerator == "cpu" else m.gpus_per_replica
        fits = m.supports_surge and not m.rollout.all_at_once and spare >= gpus
        can_surge = fits and (gpus == 0 or _placeable(cfg, held + gpus))
        if can_surge:
            spare -= gpus
            held += gpus
        out.append(can_surge)
    return out


def _model_plan(cfg: StackConfig, m: ModelConfig, can_surge: bool) -> ModelPlan:
    plan = _gpu_plan(cfg)
    cpu = m.accelerator == "cpu"
    gpus = 0 if cpu else m.gpus_per_replica
    return ModelPlan(
        name=m.name,
        endpoint_url=cfg.endpoint_url(m.name),
        gpus_per_replica=gpus,
        replicas=m.replicas,
        gpus_total=m.gpus_total,
        fit=None if cpu else _fit(m, plan),
        strategy=_strategy(m, can_surge),
        surge_gpus=gpus if can_surge else 0,
        load=None if cpu else _load(m, plan),
        checkpoint_precision=checkpoint_precision(m) or m.precision,
        concurrency=model_concurrency(m, plan),
        weight_cache_gi=weight_cache_gi(m),
        lora=model_lora(m, plan),
    )


def _placeable(cfg: StackConfig, surge_gpus: int) -> bool:
    """Every replica size is placed in every arrangement with ``surge_gpus`` of surge pods."""
    pool = cfg.cluster.gpu
    demand = _demand(cfg, surge_gpus)
    return all(
        fits_worst_case(g, demand.total - g, pool.max_nodes, pool.plan.gpus_per_node)
        for _, g in demand.sizes
    )


def _others_follow_pool(cfg: StackConfig) -> bool:
    return cfg.other_namespaces_gpu_budget is None and cfg.gpu_budget is not None


def pool_demand(cfg: StackConfig, models: list[ModelPlan]) -> PoolDemand:
    """Every GPU this stack's pods may hold at once (replicas at their autoscaling maxima plus
    the promised surge replicas, capped by the namespace's quota), and the other namespaces'."""
    return _demand(cfg, sum(m.surge_gpus for m in models))


def _demand(cfg: StackConfig, surge_gpus: int) -> PoolDemand:
    own = surge_gpus + stack_kept_gpus(cfg)
    sizes: list[tuple[str, int]] = []
    for m in cfg.models:
        if m.accelerator == "cpu":
            continue
        auto = m.active_autoscaling
        top = auto.max_replicas if auto is not None else m.replicas
        own += top * m.gpus_per_replica
        sizes.append((m.name, m.gpus_per_replica))
    return PoolDemand(
        own=min(own, cfg.gpu_budget_resolved),
        others=max(0, cfg.other_namespaces_gpus),
        sizes=tuple(sizes),
    )


def placement_issues(cfg: StackConfig, checks: list[PlacementCheck]) -> list[ConfigIssue]:
    out: list[ConfigIssue] = []
    plan = _gpu_plan(cfg)
    index = {m.name: i for i, m in enumerate(cfg.models)}
    for c in checks:
        if c.fits:
            continue
        free = plan.gpus_per_node - c.gpus_per_replica + 1
        out.append(
            ConfigIssue(
                f"models[{index[c.model]}].gpusPerReplica",
                f"a {c.gpus_per_replica}-GPU replica of {c.model} may stay Pending: the other "
                f"pods may hold {c.others} GPUs, enough to leave fewer than "
                f"{c.gpus_per_replica} free on each of the pool's {c.nodes} "
                f"{plan.gpus_per_node}-GPU nodes (it is safe only while they hold fewer than "
                f"{c.nodes} x {free}); would fix: " + ", or ".join(c.fixes),
            )
        )
    return out


def memory_issues(cfg: StackConfig) -> list[ConfigIssue]:
    """One issue per GPU model whose replica does not fit its GPUs' memory while serving or at
    load (the checkpoint as stored, before any on-the-fly quantization), with what would."""
    plan = _gpu_plan(cfg)
    issues: list[ConfigIssue] = []
    for i, m in enumerate(cfg.models):
        if m.accelerator == "cpu" or m.gpus_per_replica > plan.gpus_per_node:
            continue
        fit, load = _fit(m, plan), _load(m, plan)
        if fit.fits and load.fits:
            continue
        ckpt = loaded_precision(m) or m.precision
        fixes = suggest_fixes(
            m.parameters_billions,
            m.precision,
            m.gpus_per_replica,
            plan,
            m.gpu_memory_utilization,
            checkpoint_precision=ckpt,
        )
        hint = "; would fit: " + ", or ".join(fixes) if fixes else ""
        gpus = f"{m.gpus_per_replica} x {plan.gpu_model} ({plan.gpu_memory_gib} GiB)"
        if not fit.fits:
            what = (
                f"{m.parameters_billions:g}B at {m.precision} needs ~{fit.needed_gib:.1f} "
                f"GiB per replica but {gpus} at gpuMemoryUtilization "
                f"{m.gpu_memory_utilization:g} gives {fit.available_gib:.1f} GiB"
            )
        else:
            quantized = (
                f"; vLLM quantizes to {m.precision} only after loading every weight"
                if ckpt != m.precision
                else ""
            )
            what = (
                f"loading the {m.parameters_billions:g}B {ckpt} checkpoint needs "
                f"~{load.peak_per_gpu_gib:.1f} GiB per GPU but {gpus} has "
                f"{plan.gpu_memory_gib} GiB{quantized}"
            )
        issues.append(ConfigIssue(f"models[{i}].parametersBillions", what + hint))
    return issues


def _load(m: ModelConfig, plan: GpuPlan) -> LoadFit:
    made_in = loaded_precision(m) or m.precision
    if made_in == checkpoint_precision(m):  # loaded as stored: the bytes the checkpoint holds
        peak = stored_checkpoint_gib(m) / m.gpus_per_replica + PER_GPU_OVERHEAD_GIB
        return LoadFit(peak_per_gpu_gib=peak, gpu_memory_gib=plan.gpu_memory_gib)
    return fit_load(m.parameters_billions, made_in, m.gpus_per_replica, plan.gpu_memory_gib)


def _fit(m: ModelConfig, plan: GpuPlan) -> MemoryFit:
    return fit_memory(
        m.parameters_billions,
        m.precision,
        m.gpus_per_replica,
        plan.gpu_memory_gib,
        m.gpu_memory_utilization,
    )
