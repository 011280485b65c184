"""The attention shape and checkpoint dtype of the models we ship, each value copied from the
model's ``config.json`` at the URL next to it (the revision our stacks pin). A model that is
not here describes itself with ``models[].architecture`` and ``models[].checkpointPrecision``.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.config import ModelConfig
from components.config.types import Precision


@dataclass(frozen=True, slots=True)
class ModelShape:
    num_hidden_layers: int
    num_key_value_heads: int
    head_dim: int


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    shape: ModelShape
    torch_dtype: Precision
    source: str  # the config.json the values come from


def _hf(model_id: str, revision: str) -> str:
    return f"https://huggingface.co/{model_id}/blob/{revision}/config.json"


CATALOG: dict[str, CatalogEntry] = {
    # num_hidden_layers 80, num_attention_heads 64, num_key_value_heads 8, hidden_size 8192,
    # head_dim 128 (8192 / 64), torch_dtype bfloat16
    "meta-llama/Llama-3.3-70B-Instruct": CatalogEntry(
        ModelShape(num_hidden_layers=80, num_key_value_heads=8, head_dim=128),
        "bf16",
        _hf("meta-llama/Llama-3.3-70B-Instruct", "6f6073b423013f6a7d4d9f39144961bfbfbc386b"),
    ),
    # num_hidden_layers 32, num_attention_heads 32, num_key_value_heads 8, hidden_size 4096
    # (head_dim 4096 / 32 = 128), torch_dtype bfloat16
    "meta-llama/Llama-3.1-8B-Instruct": CatalogEntry(
        ModelShape(num_hidden_layers=32, num_key_value_heads=8, head_dim=128),
        "bf16",
        _hf("meta-llama/Llama-3.1-8B-Instruct", "0e9e39f249a16976918f6564b8830bc894c89659"),
    ),
    # num_hidden_layers 28, num_attention_heads 28, num_key_value_heads 4, hidden_size 3584
    # (head_dim 3584 / 28 = 128), torch_dtype bfloat16
    "Qwen/Qwen2.5-7B-Instruct": CatalogEntry(
        ModelShape(num_hidden_layers=28, num_key_value_heads=4, head_dim=128),
        "bf16",
        _hf("Qwen/Qwen2.5-7B-Instruct", "a09a35458c702b33eeacc393d103063234e8bc28"),
    ),
    # num_hidden_layers 24, num_attention_heads 14, num_key_value_heads 2, hidden_size 896
    # (head_dim 896 / 14 = 64), torch_dtype bfloat16
    "Qwen/Qwen2.5-0.5B-Instruct": CatalogEntry(
        ModelShape(num_hidden_layers=24, num_key_value_heads=2, head_dim=64),
        "bf16",
        _hf("Qwen/Qwen2.5-0.5B-Instruct", "main"),
    ),
}


# The fp8-stored checkpoints of the models above (planning/checkpoints.py): the same shape, the
# linear layers' weights stored as float8_e4m3 (config.json quantization_config,
# compressed-tensors), which vLLM loads as they are.
for _base, _fp8 in (
    ("meta-llama/Llama-3.3-70B-Instruct", "RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic"),
    ("meta-llama/Llama-3.1-8B-Instruct", "RedHatAI/Meta-Llama-3.1-8B-Instruct-FP8-dynamic"),
    ("Qwen/Qwen2.5-7B-Instruct", "RedHatAI/Qwen2.5-7B-Instruct-FP8-dynamic"),
):
    CATALOG[_fp8] = CatalogEntry(CATALOG[_base].shape, "fp8", f"https://huggingface.co/{_fp8}")


def model_shape(m: ModelConfig) -> ModelShape | None:
    """``models[].architecture`` if set, else the catalog's; None when neither knows the model."""
    if m.architecture is not None:
        a = m.architecture
        return ModelShape(a.num_hidden_layers, a.num_key_value_heads, a.head_dim)
    entry = CATALOG.get(m.hf_model_id)
    return entry.shape if entry else None


def checkpoint_precision(m: ModelConfig) -> Precision | None:
    """The checkpoint's dtype: ``checkpointPrecision``, else the catalog's ``torch_dtype``, else
    ``precision`` when extraArgs do not quantize (the weights are served as stored); None when
    the model quantizes with ``--quantization`` and nothing says what the checkpoint holds."""
    if m.checkpoint_precision is not None:
        return m.checkpoint_precision
    entry = CATALOG.get(m.hf_model_id)
    if entry is not None:
        return entry.torch_dtype
    return m.precision if quantization(m) is None else None


# ``--dtype`` values (vllm/config/model.py ModelDType) -> the precision the weights are made in.
_DTYPES: dict[str, Precision] = {
    "float32": "fp32",
    "float": "fp32",
    "float16": "fp16",
    "half": "fp16",
    "bfloat16": "bf16",
}


def loaded_precision(m: ModelConfig) -> Precision | None:
    """The dtype vLLM creates the weights in, before any on-the-fly quantization: ``--dtype``
    when extraArgs set it, else (``auto``) the checkpoint's dtype, a float32 checkpoint made
    16-bit (vllm v0.11.0 vllm/config/model.py:1665-1667 in ``_resolve_auto_dtype``; the
    ``--dtype`` values at :67 and :1572-1578); None when
    the checkpoint's dtype is unknown. Memory at load and the served precision follow it; the
    download and the weight cache follow the checkpoint as stored."""
    dtype = m.extra_arg("--dtype")
    if dtype in _DTYPES:
        return _DTYPES[dtype]
    ckpt = checkpoint_precision(m)
    if ckpt == "fp32":
        return "bf16"  # 16 bits either way: float16 or bfloat16, by the checkpoint and GPU
    return ckpt


def quantization(m: ModelConfig) -> str | None:
    """``--quantization`` or its alias ``-q`` (vllm/engine/arg_utils.py:548) from extraArgs."""
    return m.extra_arg("--quantization", "-q")
