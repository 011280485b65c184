"""The LoRA slots in the memory plan: vLLM's up-front allocation per slot, taken from the KV
cache, and a configuration whose slots crowd out minConcurrentSequences refused with how many
slots would fit."""

from __future__ import annotations

import pytest

from components.config import ConfigError
from components.planning.architecture import CATALOG, ModelShape
from components.planning.lora import lora_slot_bytes
from tests.unit.manifests.vllm.support import stack

ADAPTER = {"name": "sql-expert", "hfRepo": "org/sql-lora", "revision": "c" * 40}


def test_one_slot_is_every_wrapped_layers_a_and_b_at_the_max_rank() -> None:
    shape = CATALOG["meta-llama/Llama-3.1-8B-Instruct"].shape
    # per layer: A inputs 3h (qkv) + h (o) + 2h (gate_up) + i (down); B outputs
    # (h + 2 kv) + h + 2i + h, with h 4096, kv 8 x 128, i 14336; bf16
    assert (
        lora_slot_bytes(shape, 16, 2) == 32 * 16 * (6 * 4096 + 14336 + 3 * 4096 + 2048 + 28672) * 2
    )
    assert lora_slot_bytes(ModelShape(2, 2, 32), 8, 2) is None  # widths unknown


def test_the_slots_come_out_of_the_kv_cache() -> None:
    _, _, without = stack(model=1)
    _, _, with_slots = stack(model=1, loraAdapters=[ADAPTER], maxLoras=8, maxLoraRank=64)
    assert without.concurrency is not None and with_slots.concurrency is not None
    lora = with_slots.lora
    assert lora is not None and lora.slots == 8 and lora.rank == 64
    one = lora_slot_bytes(CATALOG["meta-llama/Llama-3.1-8B-Instruct"].shape, 64, 2)
    assert one is not None and lora.total_gib is not None
    assert lora.total_gib == pytest.approx(8 * one / 1024**3)
    lost = without.concurrency.kv_tokens - with_slots.concurrency.kv_tokens
    per_token = with_slots.concurrency.bytes_per_token
    assert lost * per_token == pytest.approx(8 * one, rel=0.01)


def test_slots_that_crowd_out_the_sequences_are_refused_with_how_many_fit() -> None:
    with pytest.raises(ConfigError) as info:
        stack(model=1, loraAdapters=[ADAPTER], maxLoras=200, maxLoraRank=128)
    (issue,) = [i for i in info.value.issues if i.path == "models[1].minConcurrentSequences"]
    _, _, fits = stack(model=1, loraAdapters=[ADAPTER])
    assert fits.lora is not None and fits.lora.most_slots is not None
    assert "fewer LoRA slots (maxLoras " in issue.message
