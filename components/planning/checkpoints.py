"""What a model's revision really stores and what each rank really reads (#27 "fewer bytes").

The catalog's models have a public checkpoint stored at fp8 (the linear layers' weights as
``float8_e4m3``, per-channel scales, ``compressed-tensors`` format that vLLM reads without
``--quantization``); the embeddings and ``lm_head`` stay bf16 (``quantization_config.ignore``
lists ``lm_head``, and embeddings are not ``Linear`` layers), so such a checkpoint is about half,
not exactly half, of the bf16 one. The repository ids were checked on the Hub (docs/time-to-ready.md
"Fewer bytes" has the pages); pin a revision of them as of any other model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from components.config import ModelConfig
from components.planning.architecture import checkpoint_precision
from components.planning.memory import (
    BYTES_PER_PARAMETER,
    CACHE_HEADROOM,
    CACHE_MIN_GI,
    CACHE_REVISIONS,
)


@dataclass(frozen=True, slots=True)
class Fp8Checkpoint:
    repo: str  # the fp8-stored checkpoint of the base model
    stored_gb: float  # bytes of its safetensors / 1e9
    source: str  # the Hub page the repository id was checked on


def _fp8_gb(parameters_billions: float, vocab: int, hidden: int) -> float:
    """fp8 linear weights plus bf16 embeddings and lm_head (untied: two vocab x hidden)."""
    kept_bf16 = 2 * vocab * hidden / 1e9
    return round((parameters_billions - kept_bf16) * 1 + kept_bf16 * 2, 1)


# config.json of each base model at the revision the stacks pin: vocab_size, hidden_size,
# tie_word_embeddings false (architecture.py has the links).
FP8_CHECKPOINTS: Final[dict[str, Fp8Checkpoint]] = {
    # 70.6B, vocab 128256 x hidden 8192 -> 2.10B kept bf16: 68.5 + 4.2 = 72.7 GB
    "meta-llama/Llama-3.3-70B-Instruct": Fp8Checkpoint(
        "RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic",
        _fp8_gb(70.6, 128256, 8192),
        "https://huggingface.co/RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic",
    ),
    # 8.0B, vocab 128256 x hidden 4096 -> 1.05B kept bf16: 6.95 + 2.1 = 9.1 GB
    "meta-llama/Llama-3.1-8B-Instruct": Fp8Checkpoint(
        "RedHatAI/Meta-Llama-3.1-8B-Instruct-FP8-dynamic",
        _fp8_gb(8.0, 128256, 4096),
        "https://huggingface.co/RedHatAI/Meta-Llama-3.1-8B-Instruct-FP8-dynamic",
    ),
    # 7.6B, vocab 152064 x hidden 3584 -> 1.09B kept bf16: 6.51 + 2.18 = 8.7 GB
    "Qwen/Qwen2.5-7B-Instruct": Fp8Checkpoint(
        "RedHatAI/Qwen2.5-7B-Instruct-FP8-dynamic",
        _fp8_gb(7.6, 152064, 3584),
        "https://huggingface.co/RedHatAI/Qwen2.5-7B-Instruct-FP8-dynamic",
    ),
}
_STORED_GB: Final = {c.repo: c.stored_gb for c in FP8_CHECKPOINTS.values()}


def fp8_alternative(m: ModelConfig) -> Fp8Checkpoint | None:
    """The catalog's fp8-stored checkpoint of ``m``'s repository, unless ``m`` already reads one."""
    if m.hf_model_id in _STORED_GB or checkpoint_precision(m) == "fp8":
        return None
    return FP8_CHECKPOINTS.get(m.hf_model_id)


def stored_checkpoint_gb(m: ModelConfig) -> float:
    """GB the revision's weights download and the volume holds: the catalog's figure for an
    fp8-stored checkpoint, else parameters x bytes of the checkpoint's dtype (a bf16 checkpoint
    quantized to fp8 on load still downloads bf16), else of the serving precision."""
    if m.hf_model_id in _STORED_GB:
        return _STORED_GB[m.hf_model_id]
    stored = checkpoint_precision(m) or m.precision
    return m.parameters_billions * BYTES_PER_PARAMETER[stored]


def reads_per_replica_gb(m: ModelConfig) -> float:
    """GB one replica reads while loading. From the weight volume every tensor-parallel rank
    reads every file of the checkpoint and keeps its shard (vLLM 0.32.0's default loader,
    ``safetensors_weights_iterator``, calls ``get_tensor`` on every tensor of every file:
    ``model_executor/model_loader/weight_utils.py:1079-1213``). From Object Storage the
    streamer's distributed mode (``--model-loader-extra-config '{"distributed": true}'``,
    ``runai_streamer_loader.py:34-46``) splits the chunks among the ranks and broadcasts them,
    so the replica reads the checkpoint once; the Object Storage source is planned with it."""
    if m.streams_weights:
        return stored_checkpoint_gb(m)
    ranks = 1 if m.accelerator == "cpu" else m.gpus_per_replica
    return stored_checkpoint_gb(m) * ranks


def stored_checkpoint_gib(m: ModelConfig) -> float:
    """``stored_checkpoint_gb`` in GiB: what the weight cache holds of one revision."""
    return stored_checkpoint_gb(m) * 1e9 / 1024**3


def weight_cache_default_gi(m: ModelConfig) -> int:
    """Default weight cache: two stored checkpoints plus 10 %, at least 20 GiB."""
    return max(CACHE_MIN_GI, math.ceil(stored_checkpoint_gib(m) * CACHE_REVISIONS * CACHE_HEADROOM))
