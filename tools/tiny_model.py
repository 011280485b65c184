"""Make the live tier's model: a tiny Llama with random weights, a tokenizer trained here and a
chat template; nothing comes from a hub.

Run with the Python of the vLLM venv (it has torch, transformers and tokenizers)::

    <venv>/bin/python tools/tiny_model.py --out DIR [--lora-out LORA_DIR]

``DIR`` becomes a plain Hugging Face model directory (config.json, model.safetensors,
tokenizer.json, tokenizer_config.json, chat_template.jinja, generation_config.json), and
``--lora-out`` (when given) a LoRA adapter of it in PEFT's format (adapter_config.json and
adapter_model.safetensors, what vLLM's loader reads: vllm/lora/lora_model.py:239 at v0.32.0,
the config fields in vllm/lora/peft_helper.py:21-50), written directly, without peft. The output
is the same for the same inputs (fixed seeds), so tests/live/environment.py keys its cache
on this file's hash. The shapes fit vLLM's CPU attention (head size 32 is in
``CPUAttentionBackend.get_supported_head_sizes``) and stay a few MB.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

SPECIAL = ["<|pad|>", "<|bos|>", "<|eos|>", "<|system|>", "<|user|>", "<|assistant|>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|eos|>' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)
TEXT = (
    "reply with the single word ready the capital of france is paris a model serves tokens "
    "hello world one two three four five six seven eight nine ten what is your name please "
    "answer briefly yes no maybe cache kernel compile warm cold start restart health metrics"
)
WORDS = TEXT.split()
MAX_POSITIONS = 4096


def corpus() -> list[str]:
    """Deterministic sentences over a small vocabulary (every pair of words, in turn)."""
    pairs = itertools.product(WORDS, repeat=2)
    return [" ".join(p) + "." for p in pairs] + [" ".join(WORDS)]


def tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|bos|>",
        eos_token="<|eos|>",
        pad_token="<|pad|>",
        model_max_length=MAX_POSITIONS,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def model(tok: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,
        max_position_embeddings=MAX_POSITIONS,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
        torch_dtype="bfloat16",
    )
    return LlamaForCausalLM(config).to(torch.bfloat16)


LORA_RANK = 8
LORA_TARGETS = ("q_proj", "v_proj")


def lora_adapter(base: LlamaForCausalLM, out: Path) -> None:
    """A rank-8 adapter of ``q_proj`` and ``v_proj`` in every layer, random (non-zero B, so it
    changes the outputs), in PEFT's key layout ``base_model.model.<module>.lora_A.weight``."""
    torch.manual_seed(1)
    tensors: dict[str, torch.Tensor] = {}
    for name, module in base.named_modules():
        if name.rsplit(".", 1)[-1] not in LORA_TARGETS:
            continue
        weight = module.weight
        key = f"base_model.model.{name}"
        tensors[f"{key}.lora_A.weight"] = torch.randn(LORA_RANK, weight.shape[1]) * 0.1
        tensors[f"{key}.lora_B.weight"] = torch.randn(weight.shape[0], LORA_RANK) * 0.1
    out.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.to(torch.bfloat16).contiguous() for k, v in tensors.items()},
        str(out / "adapter_model.safetensors"),
    )
    config = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "r": LORA_RANK,
        "lora_alpha": 2 * LORA_RANK,
        "lora_dropout": 0.0,
        "bias": "none",
        "target_modules": list(LORA_TARGETS),
        "base_model_name_or_path": None,
        "fan_in_fan_out": False,
        "modules_to_save": None,
    }
    (out / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--lora-out", type=Path)
    ns = ap.parse_args()
    out = ns.out
    out.mkdir(parents=True, exist_ok=True)
    tok = tokenizer()
    tok.save_pretrained(out)
    base = model(tok)
    base.save_pretrained(out, safe_serialization=True)
    files = sorted(p.name for p in out.iterdir())
    if ns.lora_out is not None:
        lora_adapter(base, ns.lora_out)
    print(json.dumps({"out": str(out), "files": files, "vocab": len(tok)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
