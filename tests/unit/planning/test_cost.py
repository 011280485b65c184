"""GPU cost per environment at list prices, hand-checked (730 hours a month)."""

from __future__ import annotations

import pytest

from components.config import load_stack_config
from components.config.prices import price_table
from components.planning.cost import pool_cost
from tests.support.stackfiles import ROOT, raw_stack, stack_config


def test_production_pays_for_its_pool_from_the_autoscaler_minimum_to_its_maximum() -> None:
    cost = pool_cost(stack_config("production"))
    assert cost is not None and cost.billed_here
    # g3-gpu-rtxpro6000-blackwell-2 at $5.00/h (2 x the published one-GPU rate): $3,650/month
    assert (cost.unit, cost.at_min, cost.at_max) == ("node", 4, 7)
    assert cost.monthly_min_usd == pytest.approx(14_600)
    assert cost.monthly_max_usd == pytest.approx(25_550)


def test_development_pays_for_the_shared_pool() -> None:
    cost = pool_cost(stack_config("development"))
    assert cost is not None
    # g2-gpu-rtx4000a1-m at $0.67/h = $489.10 a node-month; 1..4 nodes
    assert cost.monthly_min_usd == pytest.approx(489.10)
    assert cost.monthly_max_usd == pytest.approx(1_956.40)


def test_staging_attached_to_developments_pool_is_billed_nothing_but_has_a_share() -> None:
    cost = pool_cost(stack_config("staging"))
    assert cost is not None and not cost.billed_here
    # two 1-GPU replicas, gpuBudget 2: two GPUs of 1-GPU nodes
    assert (cost.unit, cost.at_min, cost.at_max) == ("GPU", 2, 2)
    assert cost.monthly_min_usd == pytest.approx(978.20)


def test_a_stack_override_changes_the_cost() -> None:
    prices = price_table().with_overrides({"g2-gpu-rtx4000a1-m": 0.5})
    cost = pool_cost(stack_config("development"), prices)
    assert cost is not None and cost.price.overridden
    assert cost.monthly_max_usd == pytest.approx(4 * 0.5 * 730)


def test_a_cpu_only_stack_has_no_gpu_cost() -> None:
    from components.config.source import read_stack_file

    raw, secrets = read_stack_file(ROOT / "examples" / "Pulumi.local.yaml")
    assert pool_cost(load_stack_config(raw, secrets).config) is None


def test_the_stack_file_overrides_a_list_price_with_cost_hourly_usd() -> None:
    raw = raw_stack("development")
    raw["cost"] = {"hourlyUsd": {"g2-gpu-rtx4000a1-m": 0.5}}
    cost = pool_cost(load_stack_config(raw).config)
    assert cost is not None and cost.price.overridden
    assert cost.monthly_min_usd == pytest.approx(0.5 * 730)


def test_an_override_for_a_plan_the_catalog_does_not_know_is_refused_with_the_closest() -> None:
    from components.config import ConfigError

    raw = raw_stack("development")
    raw["cost"] = {"hourlyUsd": {"g2-gpu-rtx4000a1-mm": 0.5}}
    with pytest.raises(ConfigError) as info:
        load_stack_config(raw)
    [issue] = info.value.issues
    assert issue.path == "cost.hourlyUsd.g2-gpu-rtx4000a1-mm"
    assert issue.message.startswith("unknown LKE GPU plan (did you mean g2-gpu-rtx4000a1-m?)")
