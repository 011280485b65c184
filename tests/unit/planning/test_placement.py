"""Worst-case placement of replicas on the GPU pool's nodes (hand-checked and exhaustive)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from components.config import ConfigError, load_stack_config
from components.planning.capacity import plan_stack
from components.planning.placement import fits_worst_case, min_nodes_for
from tests.support.stackfiles import raw_stack


def arrangements(pods: tuple[int, ...], nodes: int, per_node: int) -> Iterator[list[int]]:
    """Every way the scheduler could have put ``pods`` (GPU counts) on ``nodes`` nodes: the
    free GPUs per node."""
    for where in itertools.product(range(nodes), repeat=len(pods)):
        used = [0] * nodes
        for size, node in zip(pods, where, strict=True):
            used[node] += size
        if all(u <= per_node for u in used):
            yield [per_node - u for u in used]


def multisets(total: int, sizes: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    """Every multiset of pod sizes from ``sizes`` summing to ``total``."""
    for n in range(total + 1):
        for combo in itertools.combinations_with_replacement(sizes, n):
            if sum(combo) == total:
                yield combo


@pytest.mark.parametrize(("nodes", "per_node"), [(2, 2), (3, 2), (2, 4), (3, 4)])
def test_the_bound_is_sound_and_tight_against_every_arrangement(nodes: int, per_node: int) -> None:
    sizes = tuple(s for s in (1, 2, 4) if s <= per_node)
    for g in sizes:
        for others in range(nodes * per_node - g + 1):
            blocked = any(
                all(free < g for free in arr)
                for pods in multisets(others, sizes)
                for arr in arrangements(pods, nodes, per_node)
            )
            # sound: whenever the bound says "fits", no arrangement leaves the replica Pending;
            # tight: whenever it says "may not fit", some arrangement does
            assert blocked is not fits_worst_case(g, others, nodes, per_node), (g, others)


def test_productions_eight_gpus_on_four_nodes_of_ten_can_leave_the_70b_pending() -> None:
    # 5 nodes x 2 GPUs; the other pods hold 6 GPUs (a 2-GPU and four 1-GPU replicas):
    # one 1-GPU replica on each of four nodes and the 2-GPU one on the fifth -> no node has 2.
    assert [1, 1, 1, 1, 0] in list(arrangements((2, 1, 1, 1, 1), 5, 2))
    assert not fits_worst_case(2, 6, 5, 2)
    assert fits_worst_case(1, 7, 5, 2)  # a 1-GPU replica always finds a GPU (7 < 5 x 2)
    assert min_nodes_for(2, 6, 2) == 7  # 6 < 7 x 1
    assert fits_worst_case(2, 6, 7, 2) and not fits_worst_case(2, 6, 6, 2)
    # 4-GPU nodes lose at most 1 GPU each for a 2-GPU replica: 6 < 3 x 3
    assert min_nodes_for(2, 6, 4) == 3
    assert min_nodes_for(4, 0, 2) is None


def _production(max_nodes: int) -> dict[str, Any]:
    raw = raw_stack("production")
    raw["cluster"]["gpuPool"]["autoscaler"]["max"] = max_nodes
    return raw


def test_plan_refuses_the_pool_that_can_leave_a_replica_pending_and_says_what_fixes_it() -> None:
    with pytest.raises(ConfigError) as info:
        plan_stack(load_stack_config(_production(5)).config)
    (issue,) = [i for i in info.value.issues if i.path == "models[0].gpusPerReplica"]
    assert "a 2-GPU replica of llama-3-3-70b-instruct may stay Pending" in issue.message
    assert "the other pods may hold 6 GPUs" in issue.message
    assert "cluster.gpuPool.autoscaler.max 7" in issue.message
    assert "g3-gpu-rtxpro6000-blackwell-4 x 3" in issue.message
    assert "no mixed sizes" in issue.message


def test_the_committed_production_pool_places_every_replica() -> None:
    plan = plan_stack(load_stack_config(raw_stack("production")).config)
    assert plan.pool_max_nodes == 7
    assert {(c.model, c.gpus_per_replica, c.others) for c in plan.placement} == {
        ("llama-3-3-70b-instruct", 2, 6),
        ("llama-3-1-8b-instruct", 1, 7),
        ("qwen-2-5-7b-instruct", 1, 7),
    }
    assert all(c.fits for c in plan.placement)


def test_autoscaling_maxima_count_towards_placement() -> None:
    raw = raw_stack("production")
    # a ScaledObject needs KEDA's CRD, and something that scrapes what it scales on
    raw["cluster"]["installed"] = {"keda": True, "prometheusOperator": True}
    raw["models"][1]["autoscaling"] = {"minReplicas": 2, "maxReplicas": 4}
    with pytest.raises(ConfigError, match=r"models\[0\].gpusPerReplica: .*hold 8 GPUs"):
        plan_stack(load_stack_config(raw).config)
    raw["cluster"]["gpuPool"]["autoscaler"]["max"] = 9
    assert plan_stack(load_stack_config(raw).config).demand.total == 10


def test_a_shared_pool_counts_the_other_namespaces_quota() -> None:
    # development: 4 one-GPU nodes, its own 2 replicas; staging may hold 2 -> 1 + 2 < 4 x 1
    raw = raw_stack("development")
    plan = plan_stack(load_stack_config(raw).config)
    assert plan.demand.others == 2
    assert any("at most 2 GPUs (otherNamespacesGpuBudget)" in c for c in plan.cautions)
    raw["otherNamespacesGpuBudget"] = 3
    with pytest.raises(ConfigError) as info:
        plan_stack(load_stack_config(raw).config)
    assert {i.path for i in info.value.issues} == {
        "models[0].gpusPerReplica",
        "models[1].gpusPerReplica",
    }


def test_without_the_key_the_other_namespaces_are_assumed_to_fill_the_rest_of_the_pool() -> None:
    raw = raw_stack("staging")
    del raw["otherNamespacesGpuBudget"]
    cfg = load_stack_config(raw).config
    assert cfg.other_namespaces_gpus == 4 - 2
    plan = plan_stack(cfg)
    assert any("default: the rest" in c for c in plan.cautions)


def test_surge_is_promised_only_while_every_replica_can_still_be_placed() -> None:
    # Budget and pool have room for surge replicas (14 GPUs, 8 needed) but one more GPU held
    # could leave the 2-GPU replica Pending on 7 two-GPU nodes, so nobody surges.
    raw = raw_stack("production")
    for m in raw["models"]:
        m["weightCache"] = {"mode": "none"}
    plan = plan_stack(load_stack_config(raw).config)
    assert plan.surge_gpus == 0
    raw["cluster"]["gpuPool"]["autoscaler"]["max"] = 10
    assert plan_stack(load_stack_config(raw).config).surge_gpus > 0
