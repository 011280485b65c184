"""The ``Time to ready`` section of ``ops plan``: per model, cold start, warm restart, rollback.

Kept apart from the capacity table so each can change on its own. The figures come from
``components.planning.timing`` and the stack's ``timing`` assumptions; they are estimates.
"""

from __future__ import annotations

from components.config import StackConfig
from components.planning.timing import (
    COLD_START_TARGET_SECONDS,
    ROLLBACK_TARGET_SECONDS,
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
    """The section's lines (header, table, assumptions) and its cautions, which ``ops plan``
    prints with the others in its one list of cautions."""
    t = cfg.timing
    rows = [["MODEL", "DOWNLOAD GB", "COLD START", "WARM RESTART", "ROLLBACK", "PREFETCH", "CACHE"]]
    warnings: list[str] = []
    # The weight cache's room for a second revision is planning's caution (model_checks).
    for model in cfg.models:
        est = estimate_model(t, model)
        rows.append(
            [
                model.name,
                f"{checkpoint_gb(model):.0f}",
                _mark(est.cold_start, COLD_START_TARGET_SECONDS, held_to_targets(model)),
                _min(est.warm_restart),
                _mark(est.rollback, ROLLBACK_TARGET_SECONDS, held_to_targets(model)),
                "init" if est.prefetch else "vllm",
                model.weight_cache.mode,
            ]
        )
        warnings += timing_warnings(model, est)
    pulled = " (pre-pulled)" if t.pre_pull_images and any_gpu(cfg) else ""
    lines = [
        "",
        f"Time to ready (estimate, minutes; ! = over a GPU model's target: cold start "
        f"{_min(COLD_START_TARGET_SECONDS)} SC-001, rollback {_min(ROLLBACK_TARGET_SECONDS)} "
        f"SC-004; assumed: download {t.download_mb_per_s:g} MB/s, image {t.image_size_gb:g} GB "
        f"at {t.image_pull_mb_per_s:g} MB/s{pulled}, volume read {t.volume_read_mb_per_s:g} "
        f"MB/s, scheduling {t.scheduling_seconds:g} s: measure and set timing.*, "
        "docs/time-to-ready.md):",
    ]
    lines += ["  " + row for row in table_lines(rows)]
    return lines, warnings
