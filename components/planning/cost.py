"""Pure GPU cost of a stack at list prices: at the GPU pool's minimum and at its autoscaler's
maximum, per month.

A stack that creates its cluster pays for its GPU pool's nodes (``cluster.mode: create``). A
stack that attaches to a cluster (``stack``, ``kubeconfig``) pays nothing itself: its share is
the GPUs its replicas hold (at least) and its GPU budget (at most), at the node's price per
GPU, and the pool's owner is billed. CPU-only stacks have no GPU cost. Prices come from the
committed table (``components/config/prices.py``) with the stack's overrides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from components.config import StackConfig
from components.config.prices import PlanPrice, PriceTable, price_table


@dataclass(frozen=True, slots=True)
class PoolCost:
    price: PlanPrice  # of one node of the pool's plan
    gpus_per_node: int
    billed_here: bool  # this stack creates the pool
    unit: Literal["node", "GPU"]
    at_min: int  # nodes (billed here) or GPUs (a share of another stack's pool)
    at_max: int

    @property
    def unit_monthly_usd(self) -> float:
        node = self.price.monthly_usd
        return node if self.unit == "node" else node / self.gpus_per_node

    @property
    def monthly_min_usd(self) -> float:
        return self.at_min * self.unit_monthly_usd

    @property
    def monthly_max_usd(self) -> float:
        return self.at_max * self.unit_monthly_usd


def pool_cost(cfg: StackConfig, prices: PriceTable | None = None) -> PoolCost | None:
    """The stack's GPU cost (at ``prices``, else the list prices with the stack's
    ``cost.hourlyUsd``), or None when it runs no GPU model or its plan has no price."""
    gpus = sum(m.gpus_total for m in cfg.models if m.accelerator == "gpu")
    if gpus == 0:
        return None
    pool = cfg.cluster.gpu
    table = prices or price_table().with_overrides(cfg.cost.hourly_usd)
    price = table.price(pool.type)
    if price is None:
        return None
    per_node = pool.plan.gpus_per_node
    if cfg.cluster.mode == "create":
        return PoolCost(price, per_node, True, "node", pool.min_nodes, pool.max_nodes)
    return PoolCost(price, per_node, False, "GPU", gpus, max(gpus, cfg.gpu_budget_resolved))
