"""The ``Time to ready`` section of ``ops plan``: per model, cold start, warm restart, rollback.

Kept apart from the capacity table so each can change on its own. The figures come from
``components.planning.timing`` and the stack's ``timing`` assumptions; they are estimates.
"""

from __future__ import annotations

from components.config import StackConfig
from components.planning.checkpoints import reads_per_replica_gb
from components.planning.closing import (
    closing_options,
    keep_previous_blockers,
    not_deployable_yet,
)
from components.planning.keep_previous import kept_gpus
from components.planning.timing import (
    COLD_START_TARGET_SECONDS,
    ROLLBACK_TARGET_SECONDS,
    checkpoint_gb,
    download_mb_per_s,
    estimate_model,
    timing_warnings,
)
from ops.table import table_lines


def _min(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def _mark(seconds: float, target: int) -> str:
    return _min(seconds) + ("" if seconds <= target else " !")


def format_timing(cfg: StackConfig) -> tuple[list[str], list[str]]:
    """The section's lines (header, table, assumptions) and its cautions, which ``ops plan``
    prints with the others in its one list of cautions."""
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
    closing: list[str] = []
    # The weight cache's room for a second revision is planning's caution (model_checks).
    for i, model in enumerate(cfg.models):
        est = estimate_model(t, model)
        rows.append(
            [
                model.name,
                f"{checkpoint_gb(model):.0f}",
                f"{reads_per_replica_gb(model):.0f}",
                _mark(est.cold_start, COLD_START_TARGET_SECONDS),
                _min(est.warm_restart),
                _mark(est.rollback, ROLLBACK_TARGET_SECONDS)
                + (" (switch)" if est.keep_previous else ""),
                _source(model.weight_source.kind, est.prefetch),
                model.weight_cache.mode,
            ]
        )
        warnings += timing_warnings(model, est)
        closing += closing_options(t, model, est)
        closing += _keep_previous_lines(cfg, i, est.rollback > ROLLBACK_TARGET_SECONDS)
    lines = [
        "",
        f"Time to ready (estimate, minutes; targets: cold start {_min(COLD_START_TARGET_SECONDS)}"
        f" SC-001, rollback {_min(ROLLBACK_TARGET_SECONDS)} SC-004; ! = over target):",
    ]
    lines += ["  " + row for row in table_lines(rows)]
    lines.append(
        "  READ GB: what one replica reads while loading (every tensor-parallel rank reads the"
        " whole checkpoint)"
    )
    lines.append(
        f"  assumed: download {t.download_mb_per_s:g} MB/s, bounded by the volume's write "
        f"{t.volume_write_mb_per_s:g} MB/s (so {download_mb_per_s(t):g}), "
        f"image {t.image_size_gb:g} GB at "
        f"{t.image_pull_mb_per_s:g} MB/s"
        + (" (pre-pulled on GPU nodes)" if t.pre_pull_images else "")
        + f", volume read {t.volume_read_mb_per_s:g} MB/s, Object Storage "
        f"{t.object_storage_mb_per_s:g} MB/s per replica, scheduling {t.scheduling_seconds:g} s;"
        " set the timing.* keys to measured figures (README, Time to ready)"
    )
    warnings += [f"{issue} (pulumi up refuses it)" for issue in not_deployable_yet(cfg)]
    if closing:
        lines.append("  what closes each miss:")
        lines += [f"    - {line}" for line in closing]
    return lines, warnings


def _keep_previous_lines(cfg: StackConfig, i: int, missed: bool) -> list[str]:
    """Who keeps the previous revision and at what GPU cost; for a missed rollback without it,
    what planning would refuse if it did (budget, quota, placement)."""
    m = cfg.models[i]
    if m.rollout.keep_previous:
        return [
            f"{m.name}: rollout.keepPrevious {m.rollout.keep_previous} min: its previous "
            f"revision holds {kept_gpus(m)} more GPUs for that long after each rollout"
        ]
    if not missed or m.accelerator == "cpu":
        return []
    blockers = keep_previous_blockers(cfg, i)
    return [f"{m.name}: keepPrevious needs first: {b}" for b in blockers]


def _source(kind: str, prefetch: bool) -> str:
    if kind == "objectStorage":
        return "object storage"
    return "hub (init)" if prefetch else "hub (vllm)"
