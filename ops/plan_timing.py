"""The ``Time to ready`` section of ``ops plan``: per model, cold start, warm restart, rollback.

Kept apart from the capacity table so each can change on its own. The figures come from
``components.planning.timing`` and the stack's ``timing`` assumptions; they are estimates.
"""

from __future__ import annotations

from components.config import ModelConfig, StackConfig
from components.planning.checkpoints import reads_per_replica_gb
from components.planning.closing import (
    closed_with_keep_previous,
    closing_options,
    closing_without_keep_previous,
    keep_previous_blockers,
    not_deployable_yet,
)
from components.planning.keep_previous import kept_gpus, kept_revision
from components.planning.timing import (
    COLD_START_TARGET_SECONDS,
    ROLLBACK_TARGET_SECONDS,
    ModelTiming,
    checkpoint_gb,
    estimate_model,
    held_to_targets,
    timing_warnings,
)
from ops.table import table_lines


def _min(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def _mark(seconds: float, target: int, held: bool = True) -> str:
    return _min(seconds) + ("" if seconds <= target or not held else " !")


def any_gpu(cfg: StackConfig) -> bool:
    return any(m.accelerator == "gpu" for m in cfg.models)


def format_timing(cfg: StackConfig) -> tuple[list[str], list[str]]:
    """The section's lines (header, table, what closes each miss) and its cautions, which
    ``ops plan`` prints with the others in its one list of cautions."""
    t = cfg.timing
    rows = [
        [
            "MODEL",
            "STORED GB",
            "READ GB",
            "COLD START",
            "WARM RESTART",
            "ROLLBACK",
            "WEIGHTS FROM",
            "CACHE",
        ]
    ]
    warnings: list[str] = []
    # The weight cache's room for a second revision is planning's caution (model_checks).
    for i, model in enumerate(cfg.models):
        est = estimate_model(t, model)
        held = held_to_targets(model)
        rows.append(
            [
                model.name,
                f"{checkpoint_gb(model):.0f}",
                f"{reads_per_replica_gb(model):.0f}",
                _mark(est.cold_start, COLD_START_TARGET_SECONDS, held),
                _min(est.warm_restart),
                _mark(est.rollback, ROLLBACK_TARGET_SECONDS, held) + _rollback_note(est),
                _source(model.weight_source.kind, est.prefetch),
                model.weight_cache.mode,
            ]
        )
        warnings += _with_fixes(cfg, i, timing_warnings(model, est), est) if held else []
        warnings += _keep_previous_cost(model) + _all_at_once_downtime(model, est)
    warnings += [f"{issue} (pulumi up refuses it)" for issue in not_deployable_yet(cfg)]
    pulled = " (pre-pulled)" if t.pre_pull_images and any_gpu(cfg) else ""
    lines = [
        "",
        f"Time to ready (estimate, minutes; ! = over a GPU model's target: cold start "
        f"{_min(COLD_START_TARGET_SECONDS)} SC-001, rollback {_min(ROLLBACK_TARGET_SECONDS)} "
        f"SC-004; assumed: download {t.download_mb_per_s:g} MB/s bounded by the volume's write "
        f"{t.volume_write_mb_per_s:g} MB/s, image {t.image_size_gb:g} GB at "
        f"{t.image_pull_mb_per_s:g} MB/s{pulled}, volume read {t.volume_read_mb_per_s:g} MB/s, "
        f"Object Storage {t.object_storage_mb_per_s:g} MB/s per replica, scheduling "
        f"{t.scheduling_seconds:g} s: measure and set timing.*, docs/time-to-ready.md; READ GB: "
        "what one replica reads while loading, every tensor-parallel rank the whole checkpoint):",
    ]
    lines += ["  " + row for row in table_lines(rows)]
    return lines, warnings


def _with_fixes(cfg: StackConfig, i: int, warnings: list[str], est: ModelTiming) -> list[str]:
    """Each missed-target caution with what closes it (planning/closing.py); for keepPrevious
    what planning would refuse first (budget, quota, placement), and then what closes it
    without keepPrevious's GPUs (rollout.restart allAtOnce among the options: downtime)."""
    m = cfg.models[i]
    fixes = closing_options(cfg, m, est)
    if "SC-004" in fixes and closed_with_keep_previous(cfg, m, est):
        blockers = keep_previous_blockers(cfg, i)
        fixes["SC-004"] += "".join(f"; keepPrevious needs first: {b}" for b in blockers)
        instead = closing_without_keep_previous(cfg, i) if blockers else None
        if instead is not None:
            fixes["SC-004"] += f"; without keepPrevious's GPUs: {instead}"
    out: list[str] = []
    for w in warnings:
        out.append(w + "".join(f"; {fix}" for key, fix in fixes.items() if f"({key})" in w))
    return out


def _keep_previous_cost(m: ModelConfig) -> list[str]:
    if not m.rollout.keep_previous:
        return []
    kept = m.rollout.previous
    if kept is not None and kept_revision(m) is not None:
        now = f"keeps {kept.image} at {kept.revision} serving until {kept.until}"
    else:
        ended = f"rollout.previous's window ended at {kept.until}; " if kept else ""
        now = (
            f"keeps nothing now: {ended}the change that rolls out a new image or revision must "
            "set rollout.previous to the one it replaces, or a rollback restarts pods (`ops "
            "plan --against REF` checks it)"
        )
    return [
        f"{m.name}: rollout.keepPrevious {m.rollout.keep_previous} min: its previous "
        f"revision holds {kept_gpus(m)} more GPUs for that long after each rollout; {now}"
    ]


def _rollback_note(est: ModelTiming) -> str:
    if est.keep_previous:
        return " (switch)"
    return " (downtime)" if est.all_at_once else ""


def _all_at_once_downtime(m: ModelConfig, est: ModelTiming) -> list[str]:
    """The plan's line for a model that restarts every replica at once: it is downtime."""
    if not m.rollout.all_at_once:
        return []
    auto = m.active_autoscaling
    if auto is not None:  # KEDA sets the count: as many as run then
        who = f"every replica ({auto.min_replicas} to {auto.max_replicas}, autoscaled)"
    else:
        who = "its only replica" if m.replicas == 1 else f"all {m.replicas} replicas"
    return [
        f"{m.name}: rollout.restart allAtOnce: downtime: every rollout and rollback takes {who} "
        "down at once, and the model serves nothing until it is ready again (a rollback about "
        f"{_min(est.rollback_per_pod)} min, a new revision longer); its registry row is "
        "rolling_out meanwhile (docs/registry-contract.md)"
    ]


def _source(kind: str, prefetch: bool) -> str:
    if kind == "objectStorage":
        return "object storage"
    return "hub (init)" if prefetch else "hub (vllm)"
