"""The committed price table: every GPU plan the catalog knows has a dated, sourced price."""

from __future__ import annotations

import json

from components.config.gpu_plans import GPU_PLANS
from components.config.prices import PRICES_FILE, price_table


def test_every_plan_of_the_catalog_has_a_price_and_nothing_else_does() -> None:
    table = price_table()
    assert set(table.plans) == set(GPU_PLANS)
    assert all(p.hourly_usd > 0 for p in table.plans.values())


def test_the_table_is_dated_and_sourced_and_marks_what_is_assumed() -> None:
    data = json.loads(PRICES_FILE.read_text(encoding="utf-8"))
    assert data["as_of"] and data["currency"] == "USD"
    assert data["sources"]["pricing_page"].startswith("https://www.linode.com/pricing")
    table = price_table()
    assert table.hours_per_month == 730
    # Only the one-GPU Blackwell plan's starting price is published; the others are marked.
    assumed = {p.plan_id for p in table.plans.values() if p.assumed}
    assert assumed == {"g3-gpu-rtxpro6000-blackwell-2", "g3-gpu-rtxpro6000-blackwell-4"}


def test_a_month_is_730_hours_at_the_hourly_list_price() -> None:
    small = price_table().plans["g2-gpu-rtx4000a1-s"]
    assert small.hourly_usd == 0.52
    assert round(small.monthly_usd, 2) == 379.60


def test_a_stack_override_replaces_the_list_price_and_says_so() -> None:
    table = price_table().with_overrides({"g2-gpu-rtx4000a1-m": 0.5})
    medium = table.plans["g2-gpu-rtx4000a1-m"]
    assert (medium.hourly_usd, medium.overridden) == (0.5, True)
    assert not price_table().plans["g2-gpu-rtx4000a1-m"].overridden  # the table itself is kept
