"""The cost line of ``ops plan``: the GPU pool at list prices, per month, at the autoscaler's
minimum and maximum (``components.planning.cost``), with the price and where it comes from."""

from __future__ import annotations

from components.config import StackConfig
from components.planning.cost import PoolCost, pool_cost


def usd(value: float) -> str:
    return f"${value:,.0f}"


def _price(cost: PoolCost) -> str:
    p = cost.price
    why = "the stack's cost.hourlyUsd" if p.overridden else "list price"
    assumed = f"; {p.assumed}" if p.assumed else ""
    hourly = f"{p.plan_id} ${p.hourly_usd:.2f}/h a node"
    return f"{hourly}, {why}{assumed}; {p.hours_per_month} h a month"


def cost_line(cfg: StackConfig) -> str:
    cost = pool_cost(cfg)
    if cost is None:
        return "GPU cost: none (no model runs on a GPU)"
    lo, hi = usd(cost.monthly_min_usd), usd(cost.monthly_max_usd)
    if cost.billed_here:
        nodes = f"{cost.at_min} node" + ("" if cost.at_min == 1 else "s")
        return (
            f"GPU cost: {lo}/month at {nodes} (autoscaler min), {hi} at "
            f"{cost.at_max} (max) ({_price(cost)})"
        )
    return (
        f"GPU cost: billed to the cluster's owner; this environment's {cost.at_min} to "
        f"{cost.at_max} GPUs are {lo} to {hi}/month of it ({_price(cost)})"
    )
