"""Memory at load (the checkpoint's dtype), the weight cache, and KV-cache concurrency."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import ConfigError, load_stack_config
from components.config.gpu_plans import lookup_plan
from components.config.source import read_stack_file
from components.planning.architecture import CATALOG, ModelShape
from components.planning.capacity import memory_issues, plan_stack
from components.planning.kv_cache import concurrency, kv_bytes_per_token
from components.planning.memory import fit_load, fit_memory, suggest_fixes
from tests.support.stackfiles import ROOT, committed_stacks, raw_stack

RTX4000 = lookup_plan("g2-gpu-rtx4000a1-m")
LLAMA_8B = CATALOG["meta-llama/Llama-3.1-8B-Instruct"].shape


def errors(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        plan_stack(load_stack_config(raw).config)
    return {i.path: i.message for i in info.value.issues}


# ------------------------------------------------------------------------- memory at load


def test_a_14_7b_fp8_model_fits_serving_but_not_loading_its_bf16_checkpoint() -> None:
    # serving: 14.7e9 B = 13.69 GiB x 1.2 + 1 = 17.43 <= 20 x 0.9 = 18
    assert fit_memory(14.7, "fp8", 1, 20, 0.9).needed_gib == pytest.approx(17.43, abs=0.01)
    assert fit_memory(14.7, "fp8", 1, 20, 0.9).fits
    # load: 14.7e9 x 2 B = 27.38 GiB + 1 GiB of CUDA context > 20 GiB
    load = fit_load(14.7, "bf16", 1, 20)
    assert load.peak_per_gpu_gib == pytest.approx(28.38, abs=0.01) and not load.fits
    assert fit_load(14.7, "fp8", 1, 20).fits  # a checkpoint stored at fp8 loads


def _qwen14b(**keys: Any) -> dict[str, Any]:
    raw = raw_stack("development")
    raw["models"][0].update(
        hfModelId="Qwen/Qwen2.5-14B-Instruct",
        parametersBillions=14.7,
        architecture={"numHiddenLayers": 48, "numKeyValueHeads": 8, "headDim": 128},
        maxModelLen=512,
        **keys,
    )
    return raw


def test_on_the_fly_fp8_of_a_bf16_checkpoint_is_refused_when_the_checkpoint_cannot_load() -> None:
    found = errors(_qwen14b(checkpointPrecision="bf16"))
    message = found["models[0].parametersBillions"]
    assert "loading the 14.7B bf16 checkpoint needs ~28.4 GiB per GPU" in message
    assert "vLLM quantizes to fp8 only after loading every weight" in message
    assert "a checkpoint stored at fp8 (checkpointPrecision fp8)" in message
    raw = _qwen14b(checkpointPrecision="fp8", extraArgs=[], minConcurrentSequences=4)
    load = plan_stack(load_stack_config(raw).config).model("llama-3-1-8b-instruct").load
    assert load is not None and load.peak_per_gpu_gib == pytest.approx(14.69, abs=0.01)


def test_the_hint_no_longer_suggests_on_the_fly_fp8_that_would_not_load() -> None:
    fixes = suggest_fixes(14.7, "bf16", 1, RTX4000, 0.9, checkpoint_precision="bf16")
    assert not any(f.startswith("quantize to precision fp8") for f in fixes)
    assert fixes[0].startswith("a checkpoint stored at fp8 (precision and checkpointPrecision")
    assert "would first load the bf16 checkpoint, ~28.4 GiB per GPU" in fixes[0]
    # an 8B bf16 checkpoint loads on 20 GiB (14.9 + 1), so on-the-fly fp8 is a real fix there
    fixes8 = suggest_fixes(8, "bf16", 1, RTX4000, 0.9, checkpoint_precision="bf16")
    assert fixes8[0] == "quantize to precision fp8 on the fly (extraArgs --quantization fp8)"


def _llama70b(**keys: Any) -> dict[str, Any]:
    """development with a 70B in place of its 8B (still on 1-GPU 20 GiB RTX 4000 Ada nodes)."""
    raw = raw_stack("development")
    model = {
        "hfModelId": "meta-llama/Llama-3.3-70B-Instruct",
        "parametersBillions": 70.6,
        "precision": "bf16",
        "extraArgs": [],
        "maxModelLen": 2048,
    }
    raw["models"][0].update({**model, **keys})
    return raw


def test_a_70b_on_20_gib_gpus_gets_ways_that_fit_on_other_plans() -> None:
    """No lower precision, GPU count or larger plan alone fits a 70B on one 20 GiB GPU; the
    plan names the cheapest combinations that do, each checked below by planning it."""
    message = errors(_llama70b())["models[0].parametersBillions"]
    # 70.6e9 x 2 B = 131.5 GiB x 1.2 + 2 = 159.8 <= 2 x 96 x 0.9 = 172.8; $5.00/h a node
    assert "cluster.gpuPool.type g3-gpu-rtxpro6000-blackwell-2 and gpusPerReplica 2" in message
    # int4: 32.9 GiB x 1.2 + 4 = 43.5 <= 4 x 20 x 0.9 = 72 on the same GPUs; $2.96/h a node
    assert (
        "cluster.gpuPool.type g2-gpu-rtx4000a4-s, gpusPerReplica 4 and a checkpoint stored at "
        "int4 (precision and checkpointPrecision int4) (~$2.96/h a replica at list price)"
    ) in message
    # fp8: 65.7 GiB x 1.2 + 1 = 79.9 <= 96 x 0.9 = 86.4, and it loads (65.7 + 1 <= 96)
    assert "g3-gpu-rtxpro6000-blackwell-1 and a checkpoint stored at fp8" in message
    ways: list[tuple[str, dict[str, Any]]] = [
        ("g3-gpu-rtxpro6000-blackwell-2", {"gpusPerReplica": 2}),
        ("g2-gpu-rtx4000a4-s", {"gpusPerReplica": 4, "precision": "int4"}),
        ("g3-gpu-rtxpro6000-blackwell-1", {"precision": "fp8"}),
    ]
    for plan_type, way in ways:
        precision = way.get("precision")
        raw = _llama70b(**way, **({"checkpointPrecision": precision} if precision else {}))
        raw["cluster"]["gpuPool"].update(type=plan_type)
        raw.pop("gpuBudget", None)
        raw.pop("otherNamespacesGpuBudget", None)
        assert memory_issues(load_stack_config(raw).config) == [], plan_type


def test_precision_must_be_what_vllm_serves() -> None:
    raw = raw_stack("development")
    raw["models"][0]["precision"] = "bf16"  # but extraArgs --quantization fp8
    assert "--quantization fp8 serves fp8 weights" in errors(raw)["models[0].precision"]
    raw = raw_stack("development")
    raw["models"][1]["extraArgs"] = []  # catalog: bf16 checkpoint, nothing quantizes it
    assert "vLLM serves bf16 weights, not fp8" in errors(raw)["models[1].precision"]


def test_quantizing_an_unknown_checkpoint_needs_its_dtype() -> None:
    raw = raw_stack("development")
    raw["models"][0]["hfModelId"] = "example/unknown-8b"
    assert "checkpoint's dtype" in errors(raw)["models[0].checkpointPrecision"]
    raw["models"][0]["checkpointPrecision"] = "bf16"
    plan = plan_stack(load_stack_config(raw).config)
    assert plan.model("llama-3-1-8b-instruct").checkpoint_precision == "bf16"
    assert any("models[0].architecture: example/unknown-8b" in c for c in plan.cautions)


# ---------------------------------------------------------------------------- weight cache


def test_the_cache_is_sized_from_the_checkpoint_with_room_for_a_second_revision() -> None:
    # 70.6e9 x 2 B = 131.5 GiB; x 2 x 1.1 = 289.3 -> 290 (the old default, 1.5 x fp8, was 99)
    plan = plan_stack(load_stack_config(raw_stack("production")).config)
    assert plan.model("llama-3-3-70b-instruct").weight_cache_gi == 290
    assert plan.model("llama-3-1-8b-instruct").weight_cache_gi == 33  # 14.9 x 2.2


def test_an_explicit_cache_must_hold_the_checkpoint_and_should_hold_two() -> None:
    raw = raw_stack("production")
    raw["models"][0]["weightCache"] = {"sizeGi": 120}
    assert (
        "cannot hold the bf16 checkpoint (~131.5 GiB)"
        in (errors(raw)["models[0].weightCache.sizeGi"])
    )
    raw["models"][0]["weightCache"] = {"sizeGi": 200}
    plan = plan_stack(load_stack_config(raw).config)
    assert any(c.startswith("models[0].weightCache.sizeGi: 200 GiB") for c in plan.cautions)


# ----------------------------------------------------------------------------- KV cache


def test_kv_bytes_per_token_from_each_catalog_models_config() -> None:
    def per_token(model: str, tp: int = 1) -> int:
        return kv_bytes_per_token(CATALOG[model].shape, 2, tp)

    assert per_token("meta-llama/Llama-3.3-70B-Instruct", 2) == 2 * 80 * 8 * 128 * 2 == 327_680
    assert per_token("meta-llama/Llama-3.1-8B-Instruct") == 2 * 32 * 8 * 128 * 2 == 131_072
    assert per_token("Qwen/Qwen2.5-7B-Instruct") == 2 * 28 * 4 * 128 * 2 == 57_344
    assert per_token("Qwen/Qwen2.5-0.5B-Instruct") == 2 * 24 * 2 * 64 * 2 == 12_288
    # fewer KV heads than GPUs: vLLM keeps one head per GPU (replicated)
    assert kv_bytes_per_token(ModelShape(24, 2, 64), 2, 4) == 2 * 24 * 1 * 64 * 2 * 4


def test_sequences_per_replica_as_vllms_maximum_concurrency_log() -> None:
    # Llama-3.1-8B served at fp8 on a 20 GiB RTX 4000 Ada at 0.9: weights 8e9 B = 7.45 GiB,
    # 7.45 x 1.2 + 1 = 9.94 GiB needed, 18 - 9.94 = 8.06 GiB of KV cache;
    # blocks of 16 tokens x 128 KiB = 2 MiB -> 4126 blocks = 66,016 tokens;
    # 8192 tokens = 512 blocks -> 8.06 sequences; 2048 tokens = 128 blocks -> 32.2
    kv = fit_memory(8, "fp8", 1, 20, 0.9).kv_cache_gib
    c = concurrency(LLAMA_8B, 2, 1, kv, max_model_len=8192, typical_tokens=2048)
    assert (c.kv_tokens, c.typical_tokens) == (66_016, 2048)
    assert c.at_max_len == pytest.approx(4126 / 512)
    assert c.at_typical_len == pytest.approx(4126 / 128)
    fp8 = concurrency(LLAMA_8B, 1, 1, kv, max_model_len=8192, typical_tokens=2048)
    assert fp8.at_max_len == pytest.approx(8252 / 512)


def test_too_few_sequences_of_max_model_len_is_refused_with_the_fixes() -> None:
    raw = raw_stack("development")
    raw["models"][0]["extraArgs"] = ["--quantization", "fp8"]  # a bf16 KV cache: 8.1 sequences
    message = errors(raw)["models[0].minConcurrentSequences"]
    assert "66,016 tokens (128 KiB per token), 8.1 sequences of maxModelLen 8192" in message
    assert "maxModelLen 6592" in message  # 4126 blocks // 10 = 412 blocks of 16 tokens
    assert "an fp8 KV cache (extraArgs --kv-cache-dtype fp8: 16.1)" in message
    raw["models"][0]["minConcurrentSequences"] = 8
    plan_stack(load_stack_config(raw).config)


def test_cpu_models_use_the_cpu_kv_cache_space() -> None:
    raw = raw_stack("development")
    raw["models"] = [raw["models"][0]]
    raw["models"][0].update(
        hfModelId="Qwen/Qwen2.5-0.5B-Instruct",
        accelerator="cpu",
        image="vllm/vllm-openai-cpu:v0.18.1",
        parametersBillions=0.5,
        precision="bf16",
        extraArgs=[],
        cpuKvCacheSpaceGi=2,
        maxModelLen=2048,
    )
    # 2 GiB / (16 x 12 KiB) = 10922 blocks; 2048 tokens = 128 blocks -> 85.3 sequences
    c = plan_stack(load_stack_config(raw).config).models[0].concurrency
    assert c is not None and c.at_max_len == pytest.approx(10922 / 128)


def test_the_short_quantization_flag_and_the_equals_form_count_too() -> None:
    raw = raw_stack("development")
    raw["models"][0]["precision"] = "bf16"
    raw["models"][0]["extraArgs"] = ["-q", "fp8", "--kv-cache-dtype=fp8"]
    assert "--quantization fp8 serves fp8 weights" in errors(raw)["models[0].precision"]
    raw["models"][0]["precision"] = "fp8"
    plan = plan_stack(load_stack_config(raw).config)
    c = plan.model("llama-3-1-8b-instruct").concurrency
    assert c is not None and c.bytes_per_token == 65_536  # the fp8 KV cache was read


def test_flags_that_size_the_kv_cache_themselves_are_refused() -> None:
    """The plan's memory and concurrency figures assume vLLM sizes the KV cache from
    gpuMemoryUtilization (vllm/v1/worker/gpu_worker.py:235-252, kv_cache_utils.py:798-810)."""
    for flags in (["--num-gpu-blocks-override", "4096"], ["--kv-cache-memory=8000000000"]):
        raw = raw_stack("production")
        raw["models"][2]["extraArgs"] = flags
        with pytest.raises(ConfigError, match=r"models\[2\]\.extraArgs\[0\]: .*KV cache sizing"):
            plan_stack(load_stack_config(raw).config)


def test_every_shipped_model_is_in_the_architecture_catalog() -> None:
    files = [ROOT / f"Pulumi.{s}.yaml" for s in committed_stacks()]
    for path in [*files, ROOT / "examples/Pulumi.local.yaml"]:
        raw, _ = read_stack_file(path)
        for m in raw["models"]:
            assert m["hfModelId"] in CATALOG, (path.name, m["hfModelId"])
            assert "architecture" not in m  # the catalog's cited values, not a copy


def test_the_last_kv_cache_dtype_flag_wins_as_in_argparse() -> None:
    raw = raw_stack("production")
    raw["models"][2]["extraArgs"] = ["--kv-cache-dtype", "fp8", "--kv-cache-dtype=auto"]
    c = plan_stack(load_stack_config(raw).config).model("qwen-2-5-7b-instruct").concurrency
    assert c is not None and c.bytes_per_token == 57_344  # 16-bit: the later flag


def test_dtype_float32_makes_the_weights_fp32_at_load_and_in_service() -> None:
    """vLLM creates the weights in --dtype (float32: 4 bytes a parameter) before anything else;
    the 8B at fp32 is ~30 GiB, more than one 20 GiB GPU (development's plan)."""
    raw = raw_stack("development")
    raw["models"][0]["extraArgs"] = ["--dtype", "float32"]
    raw["models"][0]["precision"] = "bf16"
    with pytest.raises(ConfigError) as info:
        plan_stack(load_stack_config(raw).config)
    assert "models[0].precision: extraArgs --dtype float32 makes the weights fp32" in str(
        info.value
    )


def test_an_fp32_checkpoint_is_served_at_16_bits_by_default() -> None:
    """--dtype auto downcasts a float32 config (vllm/config/model.py:1665-1667): precision bf16
    is right for it, and the load peak is the 16-bit size, not 4 bytes a parameter."""
    raw = raw_stack("production")
    raw["models"][1]["checkpointPrecision"] = "fp32"
    cfg = load_stack_config(raw).config
    plan = plan_stack(cfg).model(cfg.models[1].name)
    assert plan.load is not None
    assert plan.load.peak_per_gpu_gib == pytest.approx(8 * 2e9 / 1024**3 + 1, rel=1e-6)


def test_max_num_seqs_caps_the_concurrency_the_plan_promises() -> None:
    raw = raw_stack("development")
    args = raw["models"][0]["extraArgs"]
    raw["models"][0]["extraArgs"] = [*args, "--max-num-seqs", "2"]
    with pytest.raises(ConfigError) as info:
        plan_stack(load_stack_config(raw).config)
    assert "models[0].extraArgs: --max-num-seqs 2 lets vLLM run at most 2" in str(info.value)
    raw["models"][0]["extraArgs"] = [*args, "--max-num-seqs", "12"]
    cfg = load_stack_config(raw).config
    c = plan_stack(cfg).model(cfg.models[0].name).concurrency
    assert c is not None and c.at_typical_len == 12 and c.at_max_len <= 12
