"""Memory fit of one replica on its GPUs, and what would make a model that does not fit fit.

Memory model (deliberately simple and conservative, documented in the README):

    needed per replica = weights x 1.2 + 1 GiB per GPU
    weights            = parameters x bytes per parameter (by precision), in GiB
    available          = GPU memory x GPUs per replica x gpuMemoryUtilization

The 20 % covers activations, CUDA graphs and the sampler; the 1 GiB per GPU covers the CUDA
context and NCCL buffers. Whatever is left of ``available`` is KV cache; the plan prints it.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.config.gpu_plans import GPU_PLANS, GpuPlan

__all__ = [
    "ACTIVATION_OVERHEAD",
    "BYTES_PER_PARAMETER",
    "PER_GPU_OVERHEAD_GIB",
    "MemoryFit",
    "fit_memory",
    "suggest_fixes",
    "weight_memory_gib",
]

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
