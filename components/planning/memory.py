"""Memory fit of one replica on its GPUs, and what would make a model that does not fit fit.

Memory model (deliberately simple and conservative, documented in the README):

    needed per replica = weights x 1.2 + 1 GiB per GPU
    weights            = parameters x bytes per parameter (by precision), in GiB
    available          = GPU memory x GPUs per replica x gpuMemoryUtilization

The 20 % covers activations, CUDA graphs and the sampler; the 1 GiB per GPU covers the CUDA
context and NCCL buffers. Whatever is left of ``available`` is KV cache; the plan prints it.

Memory at load is a second, separate check, because vLLM 0.11.0 quantizes on the fly only after
every weight is on the GPU in the checkpoint's dtype:

    peak per GPU at load = checkpoint weights / GPUs per replica + 1 GiB  <=  GPU memory

``Fp8LinearMethod.create_weights`` allocates an unquantized checkpoint's weights in
``params_dtype`` (vllm/model_executor/layers/quantization/fp8.py:284-296, "wait until
process_weights_after_loading"), which quantizes them (:346-349); ``BaseModelLoader.load_model``
calls it only after ``load_weights`` has loaded the whole model
(vllm/model_executor/model_loader/base_loader.py:49-51). The serving footprint is the quantized
size: the runner measures the weights after loading with ``torch.cuda.empty_cache()`` and
``max_memory_allocated`` (vllm/v1/worker/gpu_model_runner.py:2631-2652,
vllm/platforms/cuda.py:206-211), so the freed bf16 copies do not count against the KV cache.
Loading is bounded by the GPU's whole memory, not by ``gpuMemoryUtilization``, which only
sizes the KV cache (vllm/v1/worker/gpu_worker.py:183-193, 279).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from components.config.gpu_plans import GPU_PLANS, GpuPlan

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


def weight_cache_default_gi(parameters_billions: float, checkpoint_precision: str) -> int:
    """Default weight cache: two checkpoints plus 10 %, at least 20 GiB."""
    checkpoint = weight_memory_gib(parameters_billions, checkpoint_precision)
    return max(CACHE_MIN_GI, math.ceil(checkpoint * CACHE_REVISIONS * CACHE_HEADROOM))


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
    ckpt = checkpoint_precision or precision
    mem, util = plan.gpu_memory_gib, gpu_memory_utilization
    out: list[str] = []
    if BYTES_PER_PARAMETER[ckpt] > BYTES_PER_PARAMETER[precision] and _fits(
        parameters_billions,
        precision,
        gpus_per_replica,
        checkpoint=precision,
        memory_gib=mem,
        utilization=util,
    ):
        out.append(
            f"a checkpoint stored at {precision} (checkpointPrecision {precision}) instead of "
            f"quantizing the {ckpt} one after loading it"
        )
    smaller = [
        p
        for p, b in BYTES_PER_PARAMETER.items()
        if b < BYTES_PER_PARAMETER[precision]
        and fit_memory(parameters_billions, p, gpus_per_replica, mem, util).fits
    ]
    if smaller:
        best = max(smaller, key=lambda p: BYTES_PER_PARAMETER[p])
        load = fit_load(parameters_billions, ckpt, gpus_per_replica, mem)
        if best == "fp8" and load.fits:
            out.append("quantize to precision fp8 on the fly (extraArgs --quantization fp8)")
        elif fit_load(parameters_billions, best, gpus_per_replica, mem).fits:
            why = (
                f"; on-the-fly --quantization fp8 would first load the {ckpt} checkpoint, "
                f"~{load.peak_per_gpu_gib:.1f} GiB per GPU"
                if best == "fp8" and not load.fits
                else ""
            )
            out.append(
                f"a checkpoint stored at {best} (precision and checkpointPrecision {best}{why})"
            )
    for gpus in (2, 4, 8):
        if gpus_per_replica < gpus <= plan.gpus_per_node and _fits(
            parameters_billions, precision, gpus, checkpoint=ckpt, memory_gib=mem, utilization=util
        ):
            out.append(f"gpusPerReplica {gpus}")
            break
    larger = sorted(
        (
            p
            for p in GPU_PLANS.values()
            if p.lke_supported
            and p.gpus_per_node >= gpus_per_replica
            and _fits(
                parameters_billions,
                precision,
                gpus_per_replica,
                checkpoint=ckpt,
                memory_gib=p.gpu_memory_gib,
                utilization=util,
            )
        ),
        key=lambda p: (p.gpu_memory_gib, p.gpus_per_node, p.plan_id),
    )
    if larger:
        out.append(f"a plan with larger GPUs ({larger[0].plan_id})")
    return out
