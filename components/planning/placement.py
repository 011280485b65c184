"""Can every replica be placed on the pool's nodes, whatever the scheduler does?

GPUs come in nodes of ``G`` GPUs and a replica needing ``g`` GPUs must find them on one node.
The default scheduler's ``NodeResourcesFit`` plugin scores with ``LeastAllocated`` unless
configured otherwise (https://kubernetes.io/docs/reference/scheduling/config/, KEP-2458
https://www.kubernetes.dev/resources/keps/2458/), so small replicas spread over the nodes, and
pods come and go in any order (rollouts, node loss, autoscaling). We therefore assume nothing
about where the other pods are, only how many GPUs they hold, and prove placement for every
possible arrangement:

    A node on which a g-GPU replica does not fit has at most g - 1 free GPUs, so at least
    G - g + 1 of its GPUs are in use. If the replica fits on none of N nodes, the other pods
    hold at least N x (G - g + 1) GPUs. Contrapositive: if the others hold fewer,

        others < N x (G - g + 1)

    some node has g free GPUs and the replica can be scheduled, in every arrangement.

The bound is tight: ``others = N x (G - g + 1)`` GPUs of 1-GPU pods, ``G - g + 1`` on each
node, leave exactly ``g - 1`` free GPUs on every node, and the replica stays Pending.
Production's "8 GPUs (4 nodes) of 10" is that case: four 1-GPU replicas on four of the five
2-GPU nodes and one 2-GPU replica on the fifth leave the second 2-GPU replica Pending.

``N`` is the autoscaler's maximum: the cluster autoscaler adds a node while a pod is Pending
and a new node would fit it, up to ``autoscaler.max``
(https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/FAQ.md, "How does
scale-up work?").
"Others" is everything that may hold the pool's GPUs when this replica is (re)created:

- every other replica of this stack, each model at its KEDA ``maxReplicas`` if it autoscales,
  plus the surge replica of each rollout the plan promises; capped at the namespace's GPU
  quota (``gpuBudget``), which Kubernetes enforces on every pod's ``requests.nvidia.com/gpu``
  (https://kubernetes.io/docs/concepts/policy/resource-quotas/#resource-quota-for-extended-resources);
- the other namespaces sharing the pool (development and staging share one): a stack sees
  only its own config, so their share is ``otherNamespacesGpuBudget`` (the sum of their
  quotas), by default the rest of the pool. We assume nothing else requests GPUs on the pool
  (the GPU nodes are tainted ``nvidia.com/gpu``; the device plugin requests none).

Scheduling hints that make packing likely (pod affinity, ``MostAllocated`` scoring) do not
change this bound: they are preferences the scheduler may override, so the plan does not count
on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.config.gpu_plans import GPU_PLANS, GpuPlan


def fits_worst_case(g: int, others: int, nodes: int, gpus_per_node: int) -> bool:
    """A g-GPU replica finds a node in every arrangement of ``others`` GPUs on ``nodes``."""
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
