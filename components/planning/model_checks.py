"""Per-model planning checks beyond the memory fit: precisions, the weight cache, concurrency.

Each check returns ``ConfigIssue``s naming the key path to change (``ops plan`` exits 2) or
cautions (printed under the plan's table). ``capacity.plan_stack`` runs them all.
"""

from __future__ import annotations

import math

from components.config import ConfigIssue, ModelConfig
from components.config.gpu_plans import GpuPlan
from components.planning.architecture import (
    checkpoint_precision,
    loaded_precision,
    model_shape,
    quantization,
)
from components.planning.checkpoints import stored_checkpoint_gib, weight_cache_default_gi
from components.planning.kv_cache import BLOCK_SIZE_TOKENS, Concurrency, concurrency, kv_dtype_bytes
from components.planning.memory import BYTES_PER_PARAMETER, CACHE_REVISIONS, fit_memory

# What `--quantization <method>` serves when it quantizes an unquantized checkpoint on the fly.
_ON_THE_FLY: dict[str, str] = {"fp8": "fp8"}


def precision_issues(i: int, m: ModelConfig) -> list[ConfigIssue]:
    """``precision`` must be what vLLM will serve, and the checkpoint's dtype must be known."""
    quant = quantization(m)
    ckpt = checkpoint_precision(m)
    at = f"models[{i}]"
    if ckpt is None:
        return [
            ConfigIssue(
                f"{at}.checkpointPrecision",
                f"required: extraArgs quantize (--quantization {quant}) and {m.hf_model_id} "
                "is not in the architecture catalog, so the checkpoint's dtype (config.json "
                "torch_dtype), which vLLM loads before quantizing, is unknown",
            )
        ]
    served = _ON_THE_FLY.get(quant or "")
    if served is not None and m.precision != served:
        return [
            ConfigIssue(
                f"{at}.precision",
                f"extraArgs --quantization {quant} serves {served} weights; set precision {served}",
            )
        ]
    made_in = loaded_precision(m) or ckpt
    if quant is None and BYTES_PER_PARAMETER[made_in] > BYTES_PER_PARAMETER[m.precision]:
        why = (
            f"extraArgs --dtype {m.extra_arg('--dtype')} makes the weights {made_in}"
            if m.extra_arg("--dtype") is not None
            else f"the checkpoint is {ckpt} and vLLM loads it as {made_in}"
        )
        return [
            ConfigIssue(
                f"{at}.precision",
                f"{why} and extraArgs do not quantize, so vLLM serves {made_in} weights, not "
                f"{m.precision}: set precision {made_in}, add --quantization fp8, or use a "
                "checkpoint stored at the lower precision (checkpointPrecision)",
            )
        ]
    return []


def weight_cache_gi(m: ModelConfig) -> int:
    """The weight cache volume: ``weightCache.sizeGi``, else two checkpoints plus 10 %."""
    if m.weight_cache.size_gi is not None:
        return m.weight_cache.size_gi
    return weight_cache_default_gi(m)


def cache_checks(i: int, m: ModelConfig) -> tuple[list[ConfigIssue], list[str]]:
    """An explicit ``sizeGi`` must hold the checkpoint; below two checkpoints is a caution."""
    size = m.weight_cache.size_gi
    if size is None or m.weight_cache.mode == "none":
        return [], []
    ckpt = checkpoint_precision(m) or m.precision
    checkpoint = stored_checkpoint_gib(m)
    default = weight_cache_default_gi(m)
    path = f"models[{i}].weightCache.sizeGi"
    if size < checkpoint:
        issue = ConfigIssue(
            path,
            f"{size} GiB cannot hold the {ckpt} checkpoint (~{checkpoint:.1f} GiB); "
            f"the default would be {default}",
        )
        return [issue], []
    if size < checkpoint * CACHE_REVISIONS:
        return [], [
            f"{path}: {size} GiB holds one {ckpt} checkpoint (~{checkpoint:.1f} GiB) but not a "
            f"second revision while it downloads; the default would be {default}"
        ]
    return [], []


def model_concurrency(m: ModelConfig, plan: GpuPlan) -> Concurrency | None:
    """Sequences one replica's KV cache holds; None when the model's shape is unknown."""
    shape = model_shape(m)
    if shape is None:
        return None
    if m.accelerator == "cpu":
        kv_gib, tp = float(m.cpu_kv_cache_space_gi), 1
    else:
        tp = m.gpus_per_replica
        fit = fit_memory(
            m.parameters_billions, m.precision, tp, plan.gpu_memory_gib, m.gpu_memory_utilization
        )
        kv_gib = fit.kv_cache_gib
    return concurrency(
        shape,
        kv_dtype_bytes(m),
        tp,
        kv_gib,
        max_model_len=m.max_model_len,
        typical_tokens=m.typical_request_tokens,
        max_num_seqs=_max_num_seqs(m),
    )


def _max_num_seqs(m: ModelConfig) -> int | None:
    value = m.extra_arg("--max-num-seqs")
    return int(value) if value is not None and value.isdigit() else None


def concurrency_issues(i: int, m: ModelConfig, plan: GpuPlan) -> list[ConfigIssue]:
    """``minConcurrentSequences`` of ``maxModelLen`` must fit one replica's KV cache."""
    c = model_concurrency(m, plan)
    need = m.min_concurrent_sequences
    if c is None or c.at_max_len >= need:
        return []
    if c.max_num_seqs is not None and c.max_num_seqs < need:
        return [
            ConfigIssue(
                f"models[{i}].extraArgs",
                f"--max-num-seqs {c.max_num_seqs} lets vLLM run at most {c.max_num_seqs} "
                f"sequences at once; minConcurrentSequences wants {need}: raise it to at "
                f"least {need} (or lower minConcurrentSequences)",
            )
        ]
    fixes: list[str] = []
    longest = (c.kv_tokens // BLOCK_SIZE_TOKENS // need) * BLOCK_SIZE_TOKENS
    if longest >= 128:
        fixes.append(f"maxModelLen {longest}")
    if kv_dtype_bytes(m) > 1:
        fp8 = m.model_copy(update={"extra_args": [*m.extra_args, "--kv-cache-dtype", "fp8"]})
        c8 = model_concurrency(fp8, plan)
        if c8 is not None and c8.at_max_len >= need:
            fixes.append(f"an fp8 KV cache (extraArgs --kv-cache-dtype fp8: {c8.at_max_len:.1f})")
    if m.accelerator == "gpu":
        for gpus in (2, 4, 8):
            if m.gpus_per_replica < gpus <= plan.gpus_per_node:
                wider = m.model_copy(update={"gpus_per_replica": gpus})
                cw = model_concurrency(wider, plan)
                if cw is not None and cw.at_max_len >= need:
                    fixes.append(f"gpusPerReplica {gpus} ({cw.at_max_len:.1f})")
                    break
    else:
        more = math.ceil(m.cpu_kv_cache_space_gi * need / max(c.at_max_len, 1e-9))
        fixes.append(f"cpuKvCacheSpaceGi {more}")
    hint = "; would fit: " + ", or ".join(fixes) if fixes else ""
    return [
        ConfigIssue(
            f"models[{i}].minConcurrentSequences",
            f"one replica's KV cache holds {c.kv_tokens:,} tokens "
            f"({c.bytes_per_token // 1024} KiB per token), {c.at_max_len:.1f} sequences of "
            f"maxModelLen {m.max_model_len}; {need} wanted{hint}",
        )
    ]
