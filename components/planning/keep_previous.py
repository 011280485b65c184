"""``models[].rollout.keepPrevious``: the GPUs the previous revision's replicas hold during the
window, counted against the environment's budget (the namespace's GPU ResourceQuota is that
budget) and by worst-case placement, like every other pod of the stack.
"""

from __future__ import annotations

from datetime import UTC, datetime

from components.config import ConfigIssue, ModelConfig, StackConfig


def kept_revision(m: ModelConfig, at: datetime | None = None) -> ModelConfig | None:
    """The previous revision still serving beside ``m`` at ``at`` (default: now): ``m`` with
    ``rollout.previous``'s image and revision, None without one or once its window ended (the
    first ``pulumi up`` after ``until`` removes its replicas)."""
    kept = m.rollout.previous
    if kept is None or m.rollout.keep_previous == 0:
        return None
    if (at or datetime.now(UTC)) >= kept.until_time:
        return None
    return m.model_copy(update={"image": kept.image, "revision": kept.revision})


def kept_gpus(m: ModelConfig) -> int:
    """GPUs of the previous revision's replicas while ``m``'s window runs: as many as it serves
    with (its autoscaling maximum when KEDA scales it); 0 without ``keepPrevious``."""
    if m.rollout.keep_previous == 0 or m.accelerator == "cpu":
        return 0
    auto = m.active_autoscaling
    top = auto.max_replicas if auto is not None else m.replicas
    return top * m.gpus_per_replica


def renames_workload(was: ModelConfig, m: ModelConfig) -> bool:
    """With keepPrevious the workload is named for its revision (manifests/vllm/names.py
    ``workload_name``): turning it on or off, or a new image or revision under it, registers
    another workload while the old one keeps its pods (as the kept revision, or until the end
    of the update)."""
    on_before, on_now = was.rollout.keep_previous > 0, m.rollout.keep_previous > 0
    if on_before != on_now:
        return True
    return on_now and (was.image, was.revision) != (m.image, m.revision)


def stack_kept_gpus(cfg: StackConfig) -> int:
    return sum(kept_gpus(m) for m in cfg.models)


def keep_previous_issues(cfg: StackConfig) -> list[ConfigIssue]:
    """One issue per model whose previous revision would not fit the budget next to every
    model's replicas and the windows of the models before it (handed out in model order)."""
    budget = cfg.gpu_budget_resolved
    used = sum(m.gpus_total for m in cfg.models)
    out: list[ConfigIssue] = []
    for i, m in enumerate(cfg.models):
        extra = kept_gpus(m)
        if not extra:
            continue
        if used + extra > budget:
            out.append(
                ConfigIssue(
                    f"models[{i}].rollout.keepPrevious",
                    f"keeping {m.name}'s previous revision holds {extra} more GPUs; with every "
                    f"model's replicas and the earlier windows that is {used + extra} of the "
                    f"{budget} this environment may use (gpuBudget, the namespace's GPU quota): "
                    "raise gpuBudget or the pool's maximum, or set keepPrevious 0 (a rollback "
                    "then restarts the pods)",
                )
            )
            continue
        used += extra
    return out
