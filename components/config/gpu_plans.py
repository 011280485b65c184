"""LKE GPU plans: what each Linode plan id carries.

The Linode API lists GPU plans but does not report GPU memory, so this catalog is the source of
truth for capacity planning. Sizes are in GiB (what NVIDIA's "GB" means for on-board memory).
"""

from __future__ import annotations

from dataclasses import dataclass

from components.config.suggest import did_you_mean


@dataclass(frozen=True, slots=True)
class GpuPlan:
    plan_id: str
    gpu_model: str
    gpus_per_node: int
    gpu_memory_gib: int
    lke_supported: bool = True
    note: str = ""

    @property
    def node_gpu_memory_gib(self) -> int:
        return self.gpus_per_node * self.gpu_memory_gib


_ADA = "NVIDIA RTX 4000 Ada"
_TURING = "NVIDIA Quadro RTX 6000"
_BLACKWELL = "NVIDIA RTX PRO 6000 Blackwell"
_TURING_NOTE = (
    "Akamai's LKE documentation says the RTX 6000 (g1) GPU plans cannot currently be used in LKE"
)


def _family(
    prefix: str,
    gpu: str,
    memory_gib: int,
    sizes: dict[str, int],
    *,
    lke_supported: bool = True,
    note: str = "",
) -> list[GpuPlan]:
    return [
        GpuPlan(f"{prefix}{suffix}", gpu, gpus, memory_gib, lke_supported, note)
        for suffix, gpus in sizes.items()
    ]


GPU_PLANS: dict[str, GpuPlan] = {
    plan.plan_id: plan
    for plan in [
        *_family("g2-gpu-rtx4000a1-", _ADA, 20, {"s": 1, "m": 1, "l": 1, "xl": 1}),
        *_family("g2-gpu-rtx4000a2-", _ADA, 20, {"s": 2, "m": 2, "hs": 2}),
        *_family("g2-gpu-rtx4000a4-", _ADA, 20, {"s": 4, "m": 4}),
        *_family(
            "g1-gpu-rtx6000-",
            _TURING,
            24,
            {"1": 1, "2": 2, "3": 3, "4": 4},
            lke_supported=False,
            note=_TURING_NOTE,
        ),
        *_family("g3-gpu-rtxpro6000-blackwell-", _BLACKWELL, 96, {"1": 1, "2": 2, "4": 4}),
    ]
}


class UnknownPlanError(ValueError):
    def __init__(self, plan_id: str) -> None:
        known = ", ".join(sorted(GPU_PLANS))
        hint = did_you_mean(plan_id, GPU_PLANS)
        super().__init__(f"unknown LKE GPU plan {plan_id!r}{hint}; known plans: {known}")


def lookup_plan(plan_id: str) -> GpuPlan:
    try:
        return GPU_PLANS[plan_id]
    except KeyError:
        raise UnknownPlanError(plan_id) from None
