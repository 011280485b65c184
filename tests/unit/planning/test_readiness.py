"""#27: the bytes a checkpoint stores and each rank reads, the fp8-stored checkpoints of the
catalog, the Object Storage weight source's estimate, keepPrevious's GPUs, and the option the
plan names for each missed target (figures checked by hand in the comments)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.config import ConfigError, load_stack_config
from components.config.source import read_stack_file
from components.planning.architecture import CATALOG, checkpoint_precision, model_shape
from components.planning.capacity import plan_stack
from components.planning.checkpoints import (
    FP8_CHECKPOINTS,
    fp8_alternative,
    reads_per_replica_gb,
    stored_checkpoint_gb,
)
from components.planning.closing import closing_options, keep_previous_blockers
from components.planning.keep_previous import kept_gpus
from components.planning.timing import estimate_model
from tests.support.stackfiles import ROOT
from tests.unit.manifests.vllm.support import stack

FP8_70B = "RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic"


def test_every_tensor_parallel_rank_reads_the_whole_checkpoint() -> None:
    _, m70, _ = stack()  # 70.6B bf16, TP 2
    assert stored_checkpoint_gb(m70) == pytest.approx(141.2)
    assert reads_per_replica_gb(m70) == pytest.approx(282.4)
    _, m8, _ = stack(model=1)  # TP 1
    assert reads_per_replica_gb(m8) == stored_checkpoint_gb(m8) == pytest.approx(16.0)


def test_an_fp8_stored_checkpoint_keeps_embeddings_and_lm_head_in_bf16() -> None:
    # 70.6B - 2 x 128256 x 8192 (2.101B) = 68.5B at 1 byte + 2.101B at 2 bytes = 72.7 GB
    assert FP8_CHECKPOINTS["meta-llama/Llama-3.3-70B-Instruct"].stored_gb == 72.7
    _, m, _ = stack(hfModelId=FP8_70B, precision="fp8", extraArgs=["--kv-cache-dtype", "fp8"])
    assert stored_checkpoint_gb(m) == 72.7
    assert reads_per_replica_gb(m) == pytest.approx(145.4)
    # The fp8 repository has the base model's shape and loads as fp8 without --quantization.
    assert model_shape(m) == CATALOG["meta-llama/Llama-3.3-70B-Instruct"].shape
    assert checkpoint_precision(m) == "fp8"
    assert fp8_alternative(m) is None  # it already is one


def test_the_catalog_offers_an_fp8_checkpoint_of_every_shipped_model() -> None:
    for base in (
        "meta-llama/Llama-3.3-70B-Instruct",
        "meta-llama/Llama-3.1-8B-Instruct",
        "Qwen/Qwen2.5-7B-Instruct",
    ):
        alt = FP8_CHECKPOINTS[base]
        assert alt.repo.startswith("RedHatAI/") and alt.source.endswith(alt.repo)
        assert CATALOG[alt.repo].torch_dtype == "fp8"
    _, m, _ = stack()
    found = fp8_alternative(m)
    assert found is not None and found.repo == FP8_70B


def test_streaming_from_object_storage_downloads_nothing_and_reads_the_checkpoint_once() -> None:
    cfg, m, _ = stack(weightSource={"kind": "objectStorage"})
    t = estimate_model(cfg.timing, m)
    assert t.download == 0
    # distributed streaming: the ranks split 141.2 GB, at 1000 MB/s (objectStorageMbPerS)
    assert reads_per_replica_gb(m) == pytest.approx(141.2)
    assert t.load == pytest.approx(141.2)
    assert t.cold_start == pytest.approx(30 + 200 + 141.2 + 240)


def test_a_rollback_inside_the_keep_previous_window_is_the_switch() -> None:
    cfg, m, _ = stack(rollout={"keepPrevious": 30}, max_nodes=11)
    t = estimate_model(cfg.timing, m)
    assert t.rollback == cfg.timing.rollback_switch_seconds == 10
    assert kept_gpus(m) == 4


def test_production_70b_misses_are_named_with_what_closes_them() -> None:
    cfg, m, _ = stack()
    fixes = closing_options(cfg, m, estimate_model(cfg.timing, m))
    cold, rollback = fixes["SC-001"], fixes["SC-004"]
    # fp8 (72.7 GB) + object storage, read once: 30 + 200 + 72.7 + 240 = 542.7 s = 9.0 min;
    # object storage alone: 30 + 200 + 141.2 + 240 = 611.2 s = 10.2 min, not enough
    assert cold.startswith("closed by hfModelId: " + FP8_70B)
    assert cold.endswith("+ weightSource.kind: objectStorage (9.0 min ≤ 10.0)")
    assert rollback.startswith("closed by rollout.keepPrevious")
    assert "(+4 GPUs during the window) (0.2 min ≤ 5.0)" in rollback


def test_ops_plan_appends_what_closes_each_miss_to_its_caution() -> None:
    from ops.plan_timing import format_timing

    cfg, _, _ = stack()
    _, warnings = format_timing(cfg)
    (rollback,) = [w for w in warnings if "(SC-004)" in w]
    assert "; closed by rollout.keepPrevious" in rollback
    assert "; keepPrevious needs first: " in rollback and "autoscaler.max 11" in rollback
    (cold,) = [w for w in warnings if "(SC-001)" in w]
    assert "; closed by hfModelId: " + FP8_70B in cold


def test_when_nothing_closes_the_cold_start_the_plan_says_how_close_all_options_get() -> None:
    cfg, m, _ = stack()
    slow = cfg.timing.model_copy(update={"image_pull_mb_per_s": 25.0})  # pull 400 s
    cold = closing_options(cfg.model_copy(update={"timing": slow}), m, estimate_model(slow, m))[
        "SC-001"
    ]
    # 30 + 400 + 72.7 + 240 = 742.7 s = 12.4 min with every option
    assert cold.startswith("no option here closes it; hfModelId: " + FP8_70B)
    assert "+ weightSource.kind: objectStorage reach 12.4 min" in cold


def test_the_small_models_meet_both_targets_and_get_no_option() -> None:
    for i in (1, 2):
        cfg, m, _ = stack(model=i)
        assert closing_options(cfg, m, estimate_model(cfg.timing, m)) == {}


def _production(**model0: Any) -> dict[str, Any]:
    raw, _ = read_stack_file(ROOT / "Pulumi.production.yaml")
    raw = copy.deepcopy(raw)
    raw["models"][0].update(model0)
    return raw


def test_keep_previous_gpus_count_in_placement_and_the_plan_says_what_it_needs() -> None:
    raw, secrets = (
        _production(rollout={"keepPrevious": 30}),
        read_stack_file(ROOT / "Pulumi.production.yaml")[1],
    )
    cfg = load_stack_config(raw, secrets).config
    with pytest.raises(ConfigError) as info:
        plan_stack(cfg)  # 8 GPUs of replicas + 4 kept: 10 beside a 2-GPU replica on 7 nodes
    assert "the other pods may hold 10 GPUs" in str(info.value.issues[0])
    base, _, _ = stack()
    (blocker,) = keep_previous_blockers(base, 0)
    assert "cluster.gpuPool.autoscaler.max 11" in blocker
    raw["cluster"]["gpuPool"]["autoscaler"]["max"] = 11
    plan = plan_stack(load_stack_config(raw, secrets).config)
    assert plan.demand.own == 12


def test_keep_previous_beyond_the_budget_is_refused_at_its_key() -> None:
    raw, secrets = (
        _production(rollout={"keepPrevious": 30}),
        read_stack_file(ROOT / "Pulumi.production.yaml")[1],
    )
    raw["gpuBudget"] = 10
    with pytest.raises(ConfigError) as info:
        plan_stack(load_stack_config(raw, secrets).config)
    texts = [str(i) for i in info.value.issues]
    assert any(
        t.startswith("models[0].rollout.keepPrevious: keeping llama-3-3-70b-instruct's")
        and "12 of the 10" in t
        for t in texts
    )


def test_keep_previous_takes_the_spare_gpus_before_surge() -> None:
    # Shared caches (Deployments) surge when the budget allows; the kept previous revision of
    # the first model leaves no spare GPU for the second's surge replica.
    common: dict[str, Any] = {"weightCache": {"mode": "none"}}
    _, _, alone = stack(model=1, max_nodes=11, weightCache={"mode": "none"})
    assert alone.surge_gpus == 1
    raw, secrets = read_stack_file(ROOT / "Pulumi.production.yaml")
    raw = copy.deepcopy(raw)
    raw["cluster"]["gpuPool"]["autoscaler"]["max"] = 11
    raw["gpuBudget"], raw["otherNamespacesGpuBudget"] = 12, 0
    raw["models"][0]["rollout"] = {"keepPrevious": 30}
    raw["models"][1].update(common)
    plan = plan_stack(load_stack_config(raw, secrets).config)
    assert plan.model("llama-3-1-8b-instruct").surge_gpus == 0


def test_ops_plan_shows_what_keep_previous_costs_and_what_it_keeps_now() -> None:
    from ops.plan_timing import format_timing

    cfg, _, _ = stack(rollout={"keepPrevious": 30}, max_nodes=11)
    lines, warnings = format_timing(cfg)
    text = "\n".join(lines)
    assert "30.4 !" not in text and "0.2 (switch)" in text
    assert any(
        w.startswith(
            "llama-3-3-70b-instruct: rollout.keepPrevious 30 min: its previous revision holds 4 "
            "more GPUs for that long after each rollout"
        )
        for w in warnings
    )
    assert not any("pulumi up refuses" in w for w in warnings)  # the workload half is built
    assert any("keeps nothing now: the change that rolls out a new image" in w for w in warnings)
    previous = {
        "image": "vllm/vllm-openai:v0.32.0",
        "revision": "5" * 40,
        "until": "2999-01-01T00:00:00Z",
    }
    cfg, _, _ = stack(rollout={"keepPrevious": 30, "previous": previous}, max_nodes=11)
    _, warnings = format_timing(cfg)
    assert any(
        f"keeps vllm/vllm-openai:v0.32.0 at {'5' * 40} serving until 2999" in w for w in warnings
    )


def test_object_storage_streams_must_stay_under_the_accounts_connection_limit() -> None:
    # 70B: 2 replicas x 2 ranks x 200 = 800 connections > 750 (E0/E1 endpoints)
    with pytest.raises(ConfigError) as info:
        stack(weightSource={"kind": "objectStorage", "concurrency": 200})
    (issue,) = [str(i) for i in info.value.issues]
    assert issue.startswith("models[0].weightSource.concurrency: every streaming replica")
    assert "opens 800 connections" in issue and "allows 750" in issue
    stack(weightSource={"kind": "objectStorage", "concurrency": 187})  # 748: fits


def test_timing_defaults_are_the_cited_figures() -> None:
    """Each default in the docs' source table is the config model's (one fact, checked)."""
    import re

    from components.config import TimingConfig

    doc = (ROOT / "docs/time-to-ready.md").read_text()
    t = TimingConfig()
    documented = {
        "volumeReadMbPerS": t.volume_read_mb_per_s,
        "volumeWriteMbPerS": t.volume_write_mb_per_s,
        "downloadMbPerS": t.download_mb_per_s,
        "coldCompileSeconds.small": t.cold_compile_seconds.small,
        "warmCompileSeconds.small": t.warm_compile_seconds.small,
        "objectStorageMbPerS": t.object_storage_mb_per_s,
        "objectStorageConnectionLimit": t.object_storage_connection_limit,
        "rollbackSwitchSeconds": t.rollback_switch_seconds,
    }
    for key, value in documented.items():
        row = next(
            line
            for line in doc.splitlines()
            if line.startswith("| `") and f"`{key}`" in line.split("|")[1]
        )
        cells = [c.strip() for c in row.split("|")]
        defaults = [float(x) for x in re.findall(r"[\d.]+", cells[2])]
        assert value in defaults, (key, cells[2])
        assert "http" in cells[3] or "benchmarks.md" in cells[3], key  # a source, not a guess
    assert "350 MB/s sustained" in doc and "750 on E0/E1" in doc


def test_memory_at_load_and_the_cache_use_the_bytes_an_fp8_checkpoint_stores() -> None:
    _, _, plan = stack(hfModelId=FP8_70B, precision="fp8", extraArgs=["--kv-cache-dtype", "fp8"])
    # 72.7e9 B = 67.71 GiB: / 2 GPUs + 1 = 34.85 GiB at load (1 B/param would say 33.9);
    # the cache holds two: 67.71 x 2 x 1.1 = 148.96 -> 149 Gi (1 B/param: 145)
    assert plan.load is not None
    assert plan.load.peak_per_gpu_gib == pytest.approx(34.85, abs=0.01)
    assert plan.weight_cache_gi == 149


# ------------------------------------------------------- rollout.restart: allAtOnce (downtime)
ALL_AT_ONCE: dict[str, Any] = {"rollout": {"restart": "allAtOnce"}, "allowDowntime": True}


def test_all_at_once_a_rollback_is_one_pods_restart_not_replicas_times() -> None:
    # the 70B, 2 replicas, per-replica cache, pre-pulled image: one pod's warm restart is
    # scheduling 30 + 282.4 GB at 350 MB/s (806.9 s) + warm compile (large) 75 = 911.9 s
    cfg, m, _ = stack()
    one_by_one = estimate_model(cfg.timing, m)
    assert one_by_one.rollback == pytest.approx(2 * (30 + 282_400 / 350 + 75))  # 30.4 min
    cfg, m, _ = stack(k8s_version="1.37", **ALL_AT_ONCE)
    t = estimate_model(cfg.timing, m)
    assert t.rollback == t.rollback_per_pod == pytest.approx(30 + 282_400 / 350 + 75)  # 15.2
    assert t.rollback == pytest.approx(one_by_one.rollback / 2)


def test_where_keep_previous_does_not_fit_the_plan_proposes_all_at_once_as_downtime() -> None:
    from ops.plan_timing import format_timing

    cfg, _, _ = stack()  # production: keepPrevious needs autoscaler.max 11 first
    _, warnings = format_timing(cfg)
    (rollback,) = [w for w in warnings if "(SC-004)" in w]
    # objectStorage + allAtOnce: 30 + 141.2 GB at 1000 MB/s + 75 = 246.2 s = 4.1 min, once;
    # objectStorage alone 2 x 4.1 = 8.2, allAtOnce alone 15.2, fp8 + allAtOnce 8.7 min
    assert (
        "; without keepPrevious's GPUs: closed by weightSource.kind: objectStorage + "
        "rollout.restart: allAtOnce (downtime: every replica down during each rollout and "
        "rollback) (4.1 min ≤ 5.0)"
    ) in rollback
    # what the config asks for it on this stack: 1.33 drops a StatefulSet's maxUnavailable
    assert "; allAtOnce needs cluster.k8sVersion 1.37 or later" in rollback
    assert rollback.endswith("; allAtOnce needs allowDowntime: true")


def test_without_a_keep_previous_blocker_all_at_once_is_not_proposed() -> None:
    from ops.plan_timing import format_timing

    cfg, _, _ = stack(max_nodes=11)  # room for the kept replicas: keepPrevious fits
    _, warnings = format_timing(cfg)
    (rollback,) = [w for w in warnings if "(SC-004)" in w]
    assert "closed by rollout.keepPrevious" in rollback and "allAtOnce" not in rollback


def test_ops_plan_says_a_model_restarting_all_at_once_is_downtime() -> None:
    from ops.plan_timing import format_timing

    cfg, _, _ = stack(k8s_version="1.37", **ALL_AT_ONCE)
    lines, warnings = format_timing(cfg)
    (row,) = [line for line in lines if line.lstrip().startswith("llama-3-3-70b-instruct")]
    assert "15.2 ! (downtime)" in row
    (rollback,) = [w for w in warnings if "(SC-004)" in w]
    assert "estimated rollback 15.2 min (all 2 replicas at once, downtime)" in rollback
    assert "keepPrevious needs first" not in rollback  # objectStorage closes it: 4.1 min
    assert rollback.endswith("closed by weightSource.kind: objectStorage (4.1 min ≤ 5.0)")
    assert (
        "llama-3-3-70b-instruct: rollout.restart allAtOnce: downtime: every rollout and rollback "
        "takes all 2 replicas down at once, and the model serves nothing until it is ready "
        "again (a rollback about 15.2 min, a new revision longer); its registry row is "
        "rolling_out meanwhile"
    ) in " ".join(warnings)
    lines, others = format_timing(stack()[0])  # one at a time: no downtime line, no mark
    assert not any("rollout.restart allAtOnce: downtime" in w for w in others)
    assert "(downtime)" not in "\n".join(lines)


@pytest.mark.parametrize(
    ("more", "down"),
    [
        ({"replicas": 1}, "takes its only replica down at once"),
        (
            {"autoscaling": {"minReplicas": 2, "maxReplicas": 3}},
            "takes every replica (2 to 3, autoscaled) down at once",
        ),
    ],
)
def test_the_downtime_line_names_the_replicas_a_rollout_takes_down(
    more: dict[str, Any], down: str
) -> None:
    from ops.plan_timing import format_timing

    cfg, _, _ = stack(model=1, max_nodes=11, k8s_version="1.37", **ALL_AT_ONCE, **more)
    _, warnings = format_timing(cfg)
    (line,) = [w for w in warnings if "rollout.restart allAtOnce: downtime" in w]
    assert down in line, line


def test_a_single_replica_restarting_all_at_once_is_said_as_one() -> None:
    from ops.plan_timing import format_timing

    cfg, _, _ = stack(k8s_version="1.37", replicas=1, **ALL_AT_ONCE)  # the 70B
    _, warnings = format_timing(cfg)
    (rollback,) = [w for w in warnings if "(SC-004)" in w]
    assert "estimated rollback 15.2 min (its only replica, downtime)" in rollback, rollback


def test_a_stack_on_an_attached_cluster_is_never_offered_the_object_storage_source() -> None:
    """The config refuses ``weightSource.kind: objectStorage`` unless the stack creates its
    cluster (the bucket needs the cluster's region and account): staging attaches to
    development's, so the plan must not name it as what closes a miss there."""
    from ops.plan_timing import format_timing

    raw, secrets = read_stack_file(ROOT / "Pulumi.staging.yaml")
    prod, _ = read_stack_file(ROOT / "Pulumi.production.yaml")
    raw = copy.deepcopy(raw)
    raw["models"] = [copy.deepcopy(prod["models"][0])]  # the 70B, 2 replicas of 2 GPUs
    raw["gpuBudget"], raw["otherNamespacesGpuBudget"] = 4, 0
    raw["cluster"]["gpuPool"] = {"type": "g3-gpu-rtxpro6000-blackwell-4", "count": 2}
    cfg = load_stack_config(raw, secrets).config
    assert cfg.cluster.mode == "stack"
    _, warnings = format_timing(cfg)
    missed = [w for w in warnings if "(SC-001)" in w or "(SC-004)" in w]
    assert len(missed) == 2 and not any("objectStorage" in w for w in missed), missed
    (cold,) = [w for w in missed if "(SC-001)" in w]
    # the fp8-stored checkpoint alone: 30 s scheduling + 200 s image + 207.7 s download (72.7 GB
    # at 350 MB/s) + 415.4 s load (2 ranks x 72.7 GB at 350 MB/s) + 240 s compile = 18.2 min
    assert "no option here closes it; hfModelId: " + FP8_70B in cold
    assert cold.endswith(
        "reach 18.2 min (the rest is image pull, scheduling and compile: measure them, timing.*)"
    )
