"""Can every replica be placed on the pool's nodes, whatever the scheduler does? A bound that
holds for every arrangement of the other pods (``fits_worst_case``); the scheduler, autoscaler
and quota facts it rests on: docs/provider-semantics.md, "vLLM and Kubernetes facts the plan
relies on".
"""

from __future__ import annotations

from dataclasses import dataclass

from components.config.gpu_plans import GPU_PLANS, GpuPlan


def fits_worst_case(g: int, others: int, nodes: int, gpus_per_node: int) -> bool:
    """A g-GPU replica finds a node in every arrangement of ``others`` GPUs on ``nodes``.

    A node on which a g-GPU replica does not fit has at most g - 1 free GPUs, so at least
    G - g + 1 of its GPUs are in use. If the replica fits on none of N nodes, the other pods
    hold at least N x (G - g + 1) GPUs. So if they hold fewer, some node has g free GPUs, in
    every arrangement. The bound is tight: ``others = N x (G - g + 1)`` GPUs of 1-GPU pods,
    ``G - g + 1`` on each node, leave exactly ``g - 1`` free on every node.
    """
    return g <= gpus_per_node and others < nodes * (gpus_per_node - g + 1)


def min_nodes_for(g: int, others: int, gpus_per_node: int) -> int | None:
    """Fewest nodes for which ``fits_worst_case`` holds (None when g exceeds a node)."""
    if g > gpus_per_node:
        return None
    return others // (gpus_per_node - g + 1) + 1


@dataclass(frozen=True, slots=True)
class PoolDemand:
    """GPUs that may be held on the pool at once, and by what."""

    own: int  # this stack's replicas (at autoscaling maxima) and surge replicas, quota-capped
    others: int  # other namespaces sharing the pool
    sizes: tuple[tuple[str, int], ...]  # (model, GPUs per replica) for every GPU model

    @property
    def total(self) -> int:
        return self.own + self.others


@dataclass(frozen=True, slots=True)
class PlacementCheck:
    model: str
    gpus_per_replica: int
    others: int  # GPUs the other pods may hold when this replica is placed
    nodes: int
    fits: bool
    fixes: tuple[str, ...]


def check_placement(
    demand: PoolDemand,
    plan: GpuPlan,
    max_nodes: int,
    others_follow_pool: bool,
    nodes_key: str = "cluster.gpuPool.autoscaler.max",
) -> list[PlacementCheck]:
    """One check per model. ``others_follow_pool``: the other namespaces' share is "the rest
    of the pool", which grows with the pool, so more nodes alone would not help. ``nodes_key``
    is the key that sets ``max_nodes`` (named in the suggested fixes)."""
    out: list[PlacementCheck] = []
    for name, g in demand.sizes:
        others = demand.total - g
        ok = fits_worst_case(g, others, max_nodes, plan.gpus_per_node)
        fixes = () if ok else tuple(_fixes(demand, g, plan, others_follow_pool, nodes_key))
        out.append(PlacementCheck(name, g, others, max_nodes, ok, fixes))
    return out


def _fixes(
    demand: PoolDemand, g: int, plan: GpuPlan, others_follow_pool: bool, nodes_key: str
) -> list[str]:
    out: list[str] = []
    needed = min_nodes_for(g, demand.total - g, plan.gpus_per_node)
    if needed is not None and not others_follow_pool:
        out.append(f"{nodes_key} {needed}")
    elif others_follow_pool:
        out.append(
            "set otherNamespacesGpuBudget to what the other namespaces on this pool may use "
            "(the default assumes they take the whole rest of it)"
        )
    bigger = None if others_follow_pool else _larger_node_plan(demand, plan)
    if bigger is not None:
        out.append(f"a node plan with more GPUs per node ({bigger[0].plan_id} x {bigger[1]})")
    if len({size for _, size in demand.sizes}) > 1:
        out.append("the same gpusPerReplica for every model on the pool (no mixed sizes)")
    out.append("a dedicated GPU pool for the larger replicas (another cluster or stack)")
    return out


def _larger_node_plan(demand: PoolDemand, plan: GpuPlan) -> tuple[GpuPlan, int] | None:
    """The same GPU with more GPUs per node, and the fewest nodes that place every model."""
    for p in sorted(GPU_PLANS.values(), key=lambda p: (p.gpus_per_node, p.plan_id)):
        if not (p.lke_supported and p.gpu_model == plan.gpu_model):
            continue
        if p.gpus_per_node <= plan.gpus_per_node:
            continue
        counts = [min_nodes_for(g, demand.total - g, p.gpus_per_node) for _, g in demand.sizes]
        if all(c is not None for c in counts):
            return p, max(c for c in counts if c is not None)
    return None
