"""The memory a model's LoRA slots take on its GPUs, and how many adapters fit beside the KV
cache the model needs.

Every slot is allocated up front, in the model's dtype, for the four LoRA-wrapped layers of a
Llama-style decoder layer (qkv, o, gate_up, down); the q width is taken as hidden_size. The
figure is for the whole replica, unsharded: an upper bound per GPU under tensor parallelism.
Sources: docs/vllm-contract.md, "LoRA adapters".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from components.config import ModelConfig
from components.planning.architecture import ModelShape

_GIB = 1024**3


def lora_slot_bytes(shape: ModelShape, rank: int, dtype_bytes: int) -> int | None:
    """Bytes of one LoRA slot of rank ``rank`` over every decoder layer; None when the shape
    lacks the linear widths."""
    h, i = shape.hidden_size, shape.intermediate_size
    if h is None or i is None:
        return None
    kv = shape.num_key_value_heads * shape.head_dim
    a_inputs = 3 * h + h + 2 * h + i  # qkv (3 slices), o, gate_up (2 slices), down
    b_outputs = (h + 2 * kv) + h + 2 * i + h
    return shape.num_hidden_layers * rank * (a_inputs + b_outputs) * dtype_bytes


@dataclass(frozen=True, slots=True)
class LoraPlan:
    """A model's adapters and the GPU memory of their slots (None when the shape is unknown;
    ``most_slots``: None on CPU, where the slots are not in the KV cache's memory)."""

    adapters: tuple[str, ...]
    slots: int  # --max-loras
    rank: int  # --max-lora-rank
    slot_gib: float | None
    most_slots: int | None = None  # slots that fit beside minConcurrentSequences of maxModelLen

    @property
    def total_gib(self) -> float | None:
        return None if self.slot_gib is None else self.slot_gib * self.slots


def slots_gib(m: ModelConfig, shape: ModelShape | None, dtype_bytes: int) -> float:
    """GPU memory of the model's LoRA slots (0 without adapters, on CPU or when unknown)."""
    if not m.lora_adapters or m.accelerator == "cpu" or shape is None:
        return 0.0
    one = lora_slot_bytes(shape, m.max_lora_rank, dtype_bytes)
    return 0.0 if one is None else one * m.lora_slots / _GIB


def lora_plan(
    m: ModelConfig, shape: ModelShape | None, dtype_bytes: int, spare_gib: float | None
) -> LoraPlan | None:
    """The plan of ``m``'s adapters; ``spare_gib``: the KV cache memory left beyond what
    ``minConcurrentSequences`` need, before the slots (None when not known)."""
    if not m.lora_adapters:
        return None
    one = None if shape is None else lora_slot_bytes(shape, m.max_lora_rank, dtype_bytes)
    slot_gib = None if one is None else one / _GIB
    most = (
        None
        if slot_gib is None or spare_gib is None or m.accelerator == "cpu"
        else max(0, math.floor(spare_gib / slot_gib))
    )
    return LoraPlan(
        adapters=tuple(a.name for a in m.lora_adapters),
        slots=m.lora_slots,
        rank=m.max_lora_rank,
        slot_gib=slot_gib,
        most_slots=most,
    )
