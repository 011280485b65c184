"""How long a change takes until every replica serves again, hand-checked with the default
timing assumptions: Llama-3.1-8B (16 GB bf16 checkpoint), 2 replicas in production; scheduling
30 s, image 10 GB at 50 MB/s = 200 s (pre-pulled on GPU nodes), download 16 GB at min(Hub 500,
volume write 350) MB/s = 45.7 s, load at the volume's 350 MB/s = 45.7 s, compile 110 s cold /
30 s warm (small)."""

from __future__ import annotations

import pytest

from components.planning.change_timing import change_seconds
from tests.support.stackfiles import stack_config

D = L = 16_000 / 350  # download and load of the 16 GB checkpoint, seconds


@pytest.mark.parametrize(
    ("keys", "per_pod"),
    [
        ({"image"}, 30 + L + 110),  # pre-pulled image, cold compile
        ({"revision"}, 30 + D + L + 110),  # new weights, cold compile
        ({"maxModelLen"}, 30 + L + 110),  # a vLLM argument: cold compile
        ({"resources"}, 30 + L + 30),  # warm restart
    ],
)
def test_a_rolling_restart_takes_the_replicas_times_one_pod(keys: set[str], per_pod: float) -> None:
    cfg = stack_config("production")
    model = cfg.models[1]
    seconds = change_seconds(cfg.timing, model, keys=frozenset(keys), restarts=True)
    assert seconds == pytest.approx(2 * per_pod)


def test_a_new_model_starts_cold_and_a_delete_first_replacement_downloads_again() -> None:
    cfg = stack_config("production")
    model = cfg.models[1]
    assert change_seconds(cfg.timing, model, added=True) == pytest.approx(30 + 200 + D + L + 110)
    assert change_seconds(cfg.timing, model, replaced=True) == pytest.approx(30 + D + L + 110)


def test_new_replicas_start_cold_in_parallel_and_a_routing_change_takes_no_time() -> None:
    cfg = stack_config("production")
    model = cfg.models[1]
    assert change_seconds(cfg.timing, model, new_replicas=1) == pytest.approx(30 + D + L + 110)
    assert change_seconds(cfg.timing, model) == 0


@pytest.mark.parametrize(("keys", "per_pod"), [({"revision"}, 30 + D + L + 110)])
def test_all_at_once_a_rolling_restart_takes_one_pods_time(keys: set[str], per_pod: float) -> None:
    cfg = stack_config("production", k8sVersion="1.37")
    model = cfg.models[1]
    opted = model.model_copy(
        update={"rollout": model.rollout.model_copy(update={"restart": "allAtOnce"})}
    )
    seconds = change_seconds(cfg.timing, opted, keys=frozenset(keys), restarts=True)
    assert seconds == pytest.approx(per_pod)  # 2 replicas, both at once: not 2 x
