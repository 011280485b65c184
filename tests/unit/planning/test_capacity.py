"""Capacity planning: memory fit, GPU totals and rollout strategy."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import load_stack_config
from components.config.gpu_plans import GPU_PLANS, UnknownPlanError, lookup_plan
from components.planning.capacity import RolloutStrategy, plan_stack
from components.planning.memory import fit_memory, suggest_fixes
from tests.support.stackfiles import (
    raw_stack,
)


def test_8b_bf16_does_not_fit_one_20gb_gpu() -> None:
    fit = fit_memory(8, "bf16", 1, 20, 0.9)
    assert not fit.fits
    assert fit.needed_gib > fit.available_gib == pytest.approx(18.0)


def test_70b_int4_fits_two_24gb_gpus() -> None:
    fit = fit_memory(70, "int4", 2, 24, 0.9)
    assert fit.fits
    assert fit.kv_cache_gib > 0


def test_8b_fp8_fits_one_20gb_gpu_with_kv_cache_left() -> None:
    fit = fit_memory(8, "fp8", 1, 20, 0.9)
    assert fit.fits and fit.kv_cache_gib > 5


def test_fixes_suggest_quantization_more_gpus_and_a_larger_plan() -> None:
    fixes = suggest_fixes(8, "bf16", 1, lookup_plan("g2-gpu-rtx4000a2-m"), 0.9)
    assert fixes == [
        "quantize to precision fp8 on the fly (extraArgs --quantization fp8)",
        "gpusPerReplica 2",
        "a plan with larger GPUs (g3-gpu-rtxpro6000-blackwell-1)",
    ]


def test_catalog_facts() -> None:
    assert lookup_plan("g2-gpu-rtx4000a4-m").gpus_per_node == 4
    assert lookup_plan("g2-gpu-rtx4000a1-s").gpu_memory_gib == 20
    assert lookup_plan("g1-gpu-rtx6000-3").gpu_memory_gib == 24
    assert not lookup_plan("g1-gpu-rtx6000-1").lke_supported
    assert lookup_plan("g3-gpu-rtxpro6000-blackwell-4").node_gpu_memory_gib == 384
    assert len(GPU_PLANS) == 16


def test_unknown_plan_lists_the_known_ones() -> None:
    with pytest.raises(UnknownPlanError, match="g2-gpu-rtx4000a1-m"):
        lookup_plan("g9-gpu-h100")


def _prod() -> dict[str, Any]:
    return raw_stack("production")


def test_production_plan_totals_and_one_down_rollouts() -> None:
    plan = plan_stack(load_stack_config(_prod()).config)
    assert plan.gpus_needed == 8
    assert plan.pool_max_gpus == 14
    assert plan.spare_gpus == 6
    # per-replica weight caches run as StatefulSets, which cannot surge
    assert {m.strategy for m in plan.models} == {RolloutStrategy.ONE_DOWN}


def test_surge_hands_out_spare_gpus_in_model_order() -> None:
    raw = _prod()
    for m in raw["models"]:
        m["weightCache"] = {"mode": "none"}
    raw["gpuBudget"] = 10
    raw["otherNamespacesGpuBudget"] = 0
    raw["cluster"]["gpuPool"]["autoscaler"]["max"] = 9
    plan = plan_stack(load_stack_config(raw).config)
    # 2 spare GPUs: the 70B model (2 GPUs per replica) takes both; the others take one down.
    assert [m.strategy for m in plan.models] == [
        RolloutStrategy.SURGE,
        RolloutStrategy.ONE_DOWN,
        RolloutStrategy.ONE_DOWN,
    ]
    assert plan.surge_gpus == 2


def test_single_replica_without_spare_gpus_is_a_downtime_rollout() -> None:
    raw = raw_stack("staging")
    plan = plan_stack(load_stack_config(raw).config)
    assert plan.spare_gpus == 0
    assert {m.strategy for m in plan.models} == {RolloutStrategy.DOWNTIME}


def test_single_replica_with_spare_gpu_and_no_cache_surges() -> None:
    raw = raw_stack("development")
    raw["gpuBudget"] = 4
    raw["otherNamespacesGpuBudget"] = 0
    raw["models"][1]["weightCache"] = {"mode": "none"}
    plan = plan_stack(load_stack_config(raw).config)
    assert plan.model("qwen-2-5-7b-instruct").strategy is RolloutStrategy.SURGE
    assert plan.model("llama-3-1-8b-instruct").strategy is RolloutStrategy.DOWNTIME


def test_cpu_models_need_no_gpus() -> None:
    raw = raw_stack("development")
    raw["models"][0]["accelerator"] = "cpu"
    raw["models"][0]["image"] = "vllm/vllm-openai-cpu:v0.18.1"
    raw["models"][0]["cpuKvCacheSpaceGi"] = 8
    plan = plan_stack(load_stack_config(raw).config)
    cpu = plan.model("llama-3-1-8b-instruct")
    assert cpu.gpus_total == 0 and cpu.fit is None
    assert plan.gpus_needed == 1
