"""List prices of the LKE GPU plans: the committed table, and a stack's overrides of it.

The table is data (``components/data/lke/gpu-prices.json``: hourly list price per plan, the date
and the public sources); a month is ``hours_per_month`` hours, because GPU plans bill by the hour
without a monthly cap. A stack overrides a plan's hourly price with ``cost.hourlyUsd`` (a
negotiated rate, a regional price); the plan then says the figure is the stack's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

PRICES_FILE = Path(__file__).resolve().parents[1] / "data" / "lke" / "gpu-prices.json"


@dataclass(frozen=True, slots=True)
class PlanPrice:
    plan_id: str
    label: str
    hourly_usd: float
    hours_per_month: int
    assumed: str = ""  # why the figure is not a published one ("" when it is)
    overridden: bool = False  # the stack's cost.hourlyUsd, not the table's

    @property
    def monthly_usd(self) -> float:
        return self.hourly_usd * self.hours_per_month


@dataclass(frozen=True, slots=True)
class PriceTable:
    currency: str
    as_of: str
    source: str
    hours_per_month: int
    plans: Mapping[str, PlanPrice]

    def price(self, plan_id: str) -> PlanPrice | None:
        return self.plans.get(plan_id)

    def with_overrides(self, hourly_usd: Mapping[str, float]) -> PriceTable:
        """The table with the stack's hourly prices in place of the list prices."""
        if not hourly_usd:
            return self
        plans = dict(self.plans)
        for plan_id, hourly in hourly_usd.items():
            base = plans.get(plan_id) or PlanPrice(plan_id, plan_id, 0.0, self.hours_per_month)
            plans[plan_id] = replace(base, hourly_usd=hourly, assumed="", overridden=True)
        return replace(self, plans=plans)


def _plan(plan_id: str, entry: Mapping[str, Any], hours: int) -> PlanPrice:
    return PlanPrice(
        plan_id=plan_id,
        label=str(entry["label"]),
        hourly_usd=float(entry["hourly"]),
        hours_per_month=hours,
        assumed=str(entry.get("assumed", "")),
    )


@cache
def price_table() -> PriceTable:
    """The committed table (read once)."""
    data = json.loads(PRICES_FILE.read_text(encoding="utf-8"))
    hours = int(data["hours_per_month"])
    return PriceTable(
        currency=str(data["currency"]),
        as_of=str(data["as_of"]),
        source=str(data["sources"]["pricing_page"]),
        hours_per_month=hours,
        plans={k: _plan(k, v, hours) for k, v in data["plans"].items()},
    )
