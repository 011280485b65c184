"""``cost``: the prices ``ops plan`` costs the GPU pool at, when the list prices do not apply."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from components.config.base import ConfigModel, path_error
from components.config.gpu_plans import GPU_PLANS
from components.config.suggest import did_you_mean

HourlyUsd = Annotated[float, Field(gt=0, le=1000)]


class CostConfig(ConfigModel):
    """Prices for ``ops plan``'s cost lines (the committed list prices otherwise)."""

    hourly_usd: dict[str, HourlyUsd] = Field(
        default_factory=dict,
        description=(
            "USD per node-hour by LKE GPU plan id, in place of the list price in "
            "components/data/lke/gpu-prices.json (a negotiated or regional price)"
        ),
    )

    @field_validator("hourly_usd")
    @classmethod
    def _known_plans(cls, prices: dict[str, float]) -> dict[str, float]:
        for plan_id in prices:
            if plan_id not in GPU_PLANS:
                raise path_error(
                    plan_id,
                    f"unknown LKE GPU plan{did_you_mean(plan_id, GPU_PLANS)}; known plans: "
                    + ", ".join(sorted(GPU_PLANS)),
                )
        return prices
