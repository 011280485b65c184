"""KV-cache bytes per token, and how many sequences one replica's KV cache holds, computed as
vLLM 0.11.0 sizes its blocks and logs its "Maximum concurrency" (docs/provider-semantics.md,
"vLLM and Kubernetes facts the plan relies on").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from components.config import ModelConfig
from components.planning.architecture import ModelShape

BLOCK_SIZE_TOKENS = 16
_GIB = 1024**3
_ONE_BYTE = frozenset({"fp8", "fp8_e4m3", "fp8_e5m2", "fp8_inc"})


def kv_dtype_bytes(m: ModelConfig) -> int:
    """Bytes per KV element: 1 for an fp8 KV cache, 4 for a float32 model, else 2."""
    kv = m.extra_arg("--kv-cache-dtype") or "auto"
    if kv in _ONE_BYTE:
        return 1
    if kv == "auto" and m.extra_arg("--dtype") in ("float32", "float"):
        return 4
    return 2


def kv_bytes_per_token(shape: ModelShape, dtype_bytes: int, tensor_parallel: int) -> int:
    """K and V for every layer, over all the replica's GPUs (KV heads replicate when there are
    fewer than GPUs)."""
    heads_per_gpu = max(1, shape.num_key_value_heads // tensor_parallel)
    per_gpu = 2 * shape.num_hidden_layers * heads_per_gpu * shape.head_dim * dtype_bytes
    return per_gpu * tensor_parallel


@dataclass(frozen=True, slots=True)
class Concurrency:
    bytes_per_token: int
    kv_tokens: int  # tokens the replica's KV cache holds (whole blocks)
    at_max_len: float  # sequences of maxModelLen, as vLLM's "Maximum concurrency" log
    at_typical_len: float  # sequences of typicalRequestTokens (at most maxModelLen)
    typical_tokens: int
    max_num_seqs: int | None = None  # --max-num-seqs: the scheduler's cap, when extraArgs set it


def concurrency(
    shape: ModelShape,
    dtype_bytes: int,
    tensor_parallel: int,
    kv_cache_gib: float,
    *,
    max_model_len: int,
    typical_tokens: int,
    max_num_seqs: int | None = None,
) -> Concurrency:
    """``max_num_seqs`` caps both figures: vLLM schedules at most that many sequences at once
    whatever the KV cache holds (vllm v0.11.0 vllm/config/scheduler.py:38 ``max_num_seqs``)."""
    per_token = kv_bytes_per_token(shape, dtype_bytes, tensor_parallel)
    blocks = math.floor(kv_cache_gib * _GIB / (per_token * BLOCK_SIZE_TOKENS))
    typical = min(typical_tokens, max_model_len)

    def sequences(tokens: int) -> float:
        held = blocks / math.ceil(tokens / BLOCK_SIZE_TOKENS)
        return held if max_num_seqs is None else min(held, float(max_num_seqs))

    return Concurrency(
        bytes_per_token=per_token,
        kv_tokens=blocks * BLOCK_SIZE_TOKENS,
        at_max_len=sequences(max_model_len),
        at_typical_len=sequences(typical),
        typical_tokens=typical,
        max_num_seqs=max_num_seqs,
    )
