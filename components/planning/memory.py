"""Memory fit of one replica on its GPUs, while serving and at load, and what would make a
model that does not fit fit. The memory model and the vLLM behaviour behind it:
docs/architecture.md, "Capacity", and docs/provider-semantics.md, "vLLM and Kubernetes facts the
plan relies on".
"""

from __future__ import annotations

from dataclasses import dataclass

from components.config.gpu_plans import GPU_PLANS, GpuPlan
from components.config.prices import price_table

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
# The weight cache holds two full checkpoints (the served revision and the next one while it
# downloads; the Hugging Face cache keeps each revision's files) plus 10 % for tokenizer files,
# partial downloads and metadata.
CACHE_REVISIONS = 2
CACHE_HEADROOM = 1.1
CACHE_MIN_GI = 20
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


@dataclass(frozen=True, slots=True)
class LoadFit:
    peak_per_gpu_gib: float
    gpu_memory_gib: float

    @property
    def fits(self) -> bool:
        return self.peak_per_gpu_gib <= self.gpu_memory_gib


def fit_load(
    parameters_billions: float,
    checkpoint_precision: str,
    gpus_per_replica: int,
    gpu_memory_gib: float,
) -> LoadFit:
    """Peak GPU memory while loading: the checkpoint as stored, split over the replica's GPUs."""
    weights = weight_memory_gib(parameters_billions, checkpoint_precision)
    peak = weights / gpus_per_replica + PER_GPU_OVERHEAD_GIB
    return LoadFit(peak_per_gpu_gib=peak, gpu_memory_gib=gpu_memory_gib)


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


def _fits(
    parameters_billions: float,
    precision: str,
    gpus: int,
    *,
    checkpoint: str,
    memory_gib: float,
    utilization: float,
) -> bool:
    """Fits while serving (at ``precision``) and at load (the ``checkpoint`` as stored)."""
    serving = fit_memory(parameters_billions, precision, gpus, memory_gib, utilization)
    return serving.fits and fit_load(parameters_billions, checkpoint, gpus, memory_gib).fits


@dataclass(frozen=True, slots=True)
class _Replica:
    """A replica that does not fit, as the suggestions vary it."""

    parameters_billions: float
    precision: str
    checkpoint: str
    gpus: int
    utilization: float

    def fits(self, memory_gib: float, *, gpus: int | None = None) -> bool:
        return _fits(
            self.parameters_billions,
            self.precision,
            gpus or self.gpus,
            checkpoint=self.checkpoint,
            memory_gib=memory_gib,
            utilization=self.utilization,
        )


def suggest_fixes(
    parameters_billions: float,
    precision: str,
    gpus_per_replica: int,
    plan: GpuPlan,
    gpu_memory_utilization: float,
    *,
    checkpoint_precision: str | None = None,
) -> list[str]:
    """What would make a model fit both at load and while serving: a lower precision, more
    GPUs, or a larger plan. On-the-fly fp8 is offered only when the checkpoint itself loads;
    otherwise a checkpoint stored at the lower precision."""
    r = _Replica(
        parameters_billions,
        precision,
        checkpoint_precision or precision,
        gpus_per_replica,
        gpu_memory_utilization,
    )
    fixes = [
        _stored_at_precision(r, plan.gpu_memory_gib),
        _lower_precision(r, plan.gpu_memory_gib),
        _more_gpus(r, plan),
        _larger_plan(r),
    ]
    found = [f for f in fixes if f is not None]
    if fixes[2] is None and fixes[3] is None:
        # No single change of GPUs or plan does it: the cheapest combinations that do.
        found += [f for f in _elsewhere(r, plan) if f not in found]
    return found


def _stored_at_precision(r: _Replica, mem: float) -> str | None:
    """A checkpoint already at the serving precision, when quantizing after loading is the
    problem."""
    if BYTES_PER_PARAMETER[r.checkpoint] <= BYTES_PER_PARAMETER[r.precision]:
        return None
    if not _fits(
        r.parameters_billions,
        r.precision,
        r.gpus,
        checkpoint=r.precision,
        memory_gib=mem,
        utilization=r.utilization,
    ):
        return None
    return (
        f"a checkpoint stored at {r.precision} (checkpointPrecision {r.precision}) instead of "
        f"quantizing the {r.checkpoint} one after loading it"
    )


def _lower_precision(r: _Replica, mem: float) -> str | None:
    """The largest lower precision that serves: on the fly (fp8) when the checkpoint loads, else
    a checkpoint stored at it."""
    smaller = [
        p
        for p, b in BYTES_PER_PARAMETER.items()
        if b < BYTES_PER_PARAMETER[r.precision]
        and fit_memory(r.parameters_billions, p, r.gpus, mem, r.utilization).fits
    ]
    if not smaller:
        return None
    best = max(smaller, key=lambda p: BYTES_PER_PARAMETER[p])
    load = fit_load(r.parameters_billions, r.checkpoint, r.gpus, mem)
    if best == "fp8" and load.fits:
        return "quantize to precision fp8 on the fly (extraArgs --quantization fp8)"
    if not fit_load(r.parameters_billions, best, r.gpus, mem).fits:
        return None
    why = (
        f"; on-the-fly --quantization fp8 would first load the {r.checkpoint} checkpoint, "
        f"~{load.peak_per_gpu_gib:.1f} GiB per GPU"
        if best == "fp8" and not load.fits
        else ""
    )
    return f"a checkpoint stored at {best} (precision and checkpointPrecision {best}{why})"


def _more_gpus(r: _Replica, plan: GpuPlan) -> str | None:
    for gpus in (2, 4, 8):
        if r.gpus < gpus <= plan.gpus_per_node and r.fits(plan.gpu_memory_gib, gpus=gpus):
            return f"gpusPerReplica {gpus}"
    return None


def _larger_plan(r: _Replica) -> str | None:
    larger = sorted(
        (
            p
            for p in GPU_PLANS.values()
            if p.lke_supported and p.gpus_per_node >= r.gpus and r.fits(p.gpu_memory_gib)
        ),
        key=lambda p: (p.gpu_memory_gib, p.gpus_per_node, p.plan_id),
    )
    return f"a plan with larger GPUs ({larger[0].plan_id})" if larger else None


@dataclass(frozen=True, slots=True)
class _Way:
    """A plan, GPUs per replica, serving precision and checkpoint dtype that fit, and what a
    replica costs."""

    plan: GpuPlan
    gpus: int
    precision: str
    checkpoint: str
    hourly_usd: float

    def text(self, current: GpuPlan, r: _Replica) -> str:
        parts = [] if self.plan == current else [f"cluster.gpuPool.type {self.plan.plan_id}"]
        if self.gpus != r.gpus:
            parts.append(f"gpusPerReplica {self.gpus}")
        if self.precision != r.precision:
            parts.append(
                f"a checkpoint stored at {self.precision} (precision and checkpointPrecision "
                f"{self.precision})"
            )
        elif self.checkpoint != r.checkpoint:
            parts.append(
                f"a checkpoint stored at {self.checkpoint} (checkpointPrecision {self.checkpoint})"
            )
        what = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
        return f"{what} (~${self.hourly_usd:.2f}/h a replica at list price)"


def _variants(r: _Replica) -> list[tuple[str, str]]:
    """(serving precision, checkpoint dtype) to try, best first: as configured, the checkpoint
    stored at the serving precision, then each lower precision stored as such."""
    out = [(r.precision, r.checkpoint)]
    if r.checkpoint != r.precision:
        out.append((r.precision, r.precision))
    lower = [p for p, b in BYTES_PER_PARAMETER.items() if b < BYTES_PER_PARAMETER[r.precision]]
    return out + [(p, p) for p in sorted(lower, key=lambda p: -BYTES_PER_PARAMETER[p])]


def _ways(r: _Replica) -> list[_Way]:
    """Every LKE plan and GPU count a replica fits on, with the best precision that fits
    there, cheapest first (its share of a node's list price)."""
    prices = price_table()
    ways: list[_Way] = []
    for plan in (p for p in GPU_PLANS.values() if p.lke_supported):
        price = prices.price(plan.plan_id)
        for gpus in (g for g in (1, 2, 4, 8) if g <= plan.gpus_per_node):
            fit = next(
                (
                    (p, c)
                    for p, c in _variants(r)
                    if _fits(
                        r.parameters_billions,
                        p,
                        gpus,
                        checkpoint=c,
                        memory_gib=plan.gpu_memory_gib,
                        utilization=r.utilization,
                    )
                ),
                None,
            )
            if fit is not None:
                hourly = price.hourly_usd * gpus / plan.gpus_per_node if price else 0.0
                ways.append(_Way(plan, gpus, fit[0], fit[1], hourly))
    return sorted(ways, key=lambda w: (w.hourly_usd, -BYTES_PER_PARAMETER[w.checkpoint]))


def _elsewhere(r: _Replica, plan: GpuPlan) -> list[str]:
    """The cheapest way at the configured precision, the cheapest on the same GPUs, and the
    cheapest of all (each once)."""
    ways = _ways(r)
    picks = [
        next((w for w in ways if w.precision == r.precision), None),
        next((w for w in ways if w.plan.gpu_model == plan.gpu_model), None),
        ways[0] if ways else None,
    ]
    out: list[str] = []
    for way in picks:
        if way is not None and (text := way.text(plan, r)) not in out:
            out.append(text)
    return out
