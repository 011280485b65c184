"""For each model that misses SC-001 (cold start) or SC-004 (rollback), the option that closes the
miss: an fp8-stored checkpoint (fewer bytes), the Object Storage weight source (faster bytes),
``rollout.keepPrevious`` (a rollback without a restart, for the model's GPUs once more), the
smallest set of them that does it, or, when none does, how close all of them get; where
keepPrevious's GPUs are not there, the same without it but with ``rollout.restart: allAtOnce``
(every replica at once: downtime).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import combinations

from components.config import ConfigError, ConfigIssue, ModelConfig, StackConfig, TimingConfig
from components.config.cluster import STATEFULSET_MAX_UNAVAILABLE_SINCE
from components.config.readiness import Rollout, WeightSource
from components.config.stack import all_at_once_version_issue
from components.planning.capacity import plan_stack
from components.planning.checkpoints import fp8_alternative
from components.planning.timing import (
    COLD_START_TARGET_SECONDS,
    ROLLBACK_TARGET_SECONDS,
    ModelTiming,
    estimate_model,
)

KEEP_PREVIOUS_KEY = "rollout.keepPrevious"


@dataclass(frozen=True, slots=True)
class Option:
    key: str  # what to set, as the user writes it
    apply: Callable[[ModelConfig], ModelConfig]


def _options(m: ModelConfig, *, rollback: bool, streamable: bool) -> list[Option]:
    """The options for ``m``; ``streamable``: the stack may have a bucket
    (``StackConfig.object_storage_possible``), else the config refuses the Object Storage
    source and it is no option."""
    out: list[Option] = []
    alt = fp8_alternative(m)
    if alt is not None:
        repo = alt.repo
        out.append(
            Option(
                f"hfModelId: {repo} (fp8-stored, {alt.stored_gb:g} GB; pin its revision, "
                "precision fp8, drop --quantization)",
                lambda x: x.model_copy(update={"hf_model_id": repo, "precision": "fp8"}),
            )
        )
    if streamable and not m.streams_weights:
        out.append(
            Option(
                "weightSource.kind: objectStorage",
                lambda x: x.model_copy(
                    update={"weight_source": WeightSource(kind="objectStorage")}
                ),
            )
        )
    if rollback and m.rollout.keep_previous == 0 and m.accelerator == "gpu":
        instead = "; instead of rollout.restart allAtOnce" if m.rollout.all_at_once else ""
        out.append(
            Option(
                f"{KEEP_PREVIOUS_KEY}: <minutes> (+{m.gpus_total} GPUs during the window{instead})",
                lambda x: x.model_copy(update={"rollout": Rollout(keep_previous=1)}),
            )
        )
    return out


ALL_AT_ONCE_KEY = (
    "rollout.restart: allAtOnce (downtime: every replica down during each rollout and rollback)"
)


def _all_at_once(m: ModelConfig) -> Option | None:
    """``rollout.restart: allAtOnce``, for a GPU model restarting more than one replica one at
    a time without keepPrevious."""
    if m.rollout.all_at_once or m.rollout.keep_previous or m.accelerator != "gpu":
        return None
    if m.replicas < 2:
        return None
    return Option(
        ALL_AT_ONCE_KEY,
        lambda x: x.model_copy(
            update={"rollout": x.rollout.model_copy(update={"restart": "allAtOnce"})}
        ),
    )


def _smallest_closing(
    timing: TimingConfig,
    m: ModelConfig,
    options: list[Option],
    measure: Callable[[ModelTiming], float],
    target: int,
) -> tuple[tuple[Option, ...], float, bool]:
    """The fewest options (in catalogue order) that bring ``measure`` within ``target``; else
    all of them and the figure they reach."""
    for size in range(1, len(options) + 1):
        for chosen in combinations(options, size):
            figure = measure(estimate_model(timing, _applied(m, chosen)))
            if figure <= target:
                return chosen, figure, True
    everything = tuple(options)
    return everything, measure(estimate_model(timing, _applied(m, everything))), False


def _applied(m: ModelConfig, chosen: Iterable[Option]) -> ModelConfig:
    for option in chosen:
        m = option.apply(m)
    return m


def _sentence(figure: float, target: int, found: tuple[Option, ...], ok: bool) -> str:
    keys = " + ".join(o.key for o in found)
    if ok:
        return f"closed by {keys} ({figure / 60:.1f} min ≤ {target / 60:.1f})"
    if not found:
        return "no option here closes it"
    return (
        f"no option here closes it; {keys} reach {figure / 60:.1f} min (the rest is image "
        "pull, scheduling and compile: measure them, timing.*)"
    )


def closing_options(cfg: StackConfig, m: ModelConfig, t: ModelTiming) -> dict[str, str]:
    """Per missed target of ``m`` (``SC-001``, ``SC-004``), what closes it."""
    timing, streamable = cfg.timing, cfg.object_storage_possible
    out: dict[str, str] = {}
    if t.cold_start > COLD_START_TARGET_SECONDS:
        found, figure, ok = _smallest_closing(
            timing,
            m,
            _options(m, rollback=False, streamable=streamable),
            lambda e: e.cold_start,
            COLD_START_TARGET_SECONDS,
        )
        out["SC-001"] = _sentence(figure, COLD_START_TARGET_SECONDS, found, ok)
    if t.rollback > ROLLBACK_TARGET_SECONDS:
        options = _options(m, rollback=True, streamable=streamable)
        found, figure, ok = _smallest_closing(
            timing, m, options, lambda e: e.rollback, ROLLBACK_TARGET_SECONDS
        )
        out["SC-004"] = _sentence(figure, ROLLBACK_TARGET_SECONDS, found, ok)
    return out


def closed_with_keep_previous(cfg: StackConfig, m: ModelConfig, t: ModelTiming) -> bool:
    """Whether what closes ``m``'s SC-004 miss (or comes closest) includes keepPrevious."""
    if t.rollback <= ROLLBACK_TARGET_SECONDS:
        return False
    options = _options(m, rollback=True, streamable=cfg.object_storage_possible)
    found, _, _ = _smallest_closing(
        cfg.timing, m, options, lambda e: e.rollback, ROLLBACK_TARGET_SECONDS
    )
    return any(o.key.startswith(KEEP_PREVIOUS_KEY) for o in found)


def all_at_once_needs(cfg: StackConfig, m: ModelConfig) -> list[str]:
    """What the config would ask before it accepts ``rollout.restart: allAtOnce`` for ``m``."""
    out: list[str] = []
    if all_at_once_version_issue(cfg.cluster, m) is not None:
        out.append(
            f"cluster.k8sVersion 1.{STATEFULSET_MAX_UNAVAILABLE_SINCE} or later (a StatefulSet's "
            "maxUnavailable: earlier versions drop it)"
        )
    if cfg.environment == "production" and not m.allow_downtime:
        out.append("allowDowntime: true")
    return out


def closing_without_keep_previous(cfg: StackConfig, index: int) -> str | None:
    """What closes ``models[index]``'s SC-004 miss without keepPrevious's GPUs: the fewest of
    the fp8-stored checkpoint, the Object Storage source and ``rollout.restart: allAtOnce``
    (said as downtime, with what the config would ask for it); None without such options."""
    m = cfg.models[index]
    options = _options(m, rollback=False, streamable=cfg.object_storage_possible)
    all_at_once = _all_at_once(m)
    if all_at_once is not None:
        options.append(all_at_once)
    if not options:
        return None
    found, figure, ok = _smallest_closing(
        cfg.timing, m, options, lambda e: e.rollback, ROLLBACK_TARGET_SECONDS
    )
    needs = all_at_once_needs(cfg, m) if all_at_once in found else []
    return _sentence(figure, ROLLBACK_TARGET_SECONDS, found, ok) + "".join(
        f"; allAtOnce needs {n}" for n in needs
    )


def keep_previous_blockers(cfg: StackConfig, index: int, minutes: int = 1) -> list[str]:
    """What the stack's planning refuses once ``models[index]`` keeps its previous revision
    (the budget, the quota, worst-case placement): empty when the GPUs are there."""
    models = list(cfg.models)
    models[index] = models[index].model_copy(update={"rollout": Rollout(keep_previous=minutes)})
    try:
        plan_stack(cfg.model_copy(update={"models": models}))
    except ConfigError as exc:
        return [str(issue) for issue in exc.issues]
    return []


def not_deployable_yet(cfg: StackConfig) -> list[ConfigIssue]:
    """What ``ops plan`` evaluates but ``pulumi up`` does not apply yet: LoRA adapters' registry
    rows do not follow a ``rollout.keepPrevious`` rollback target. The program refuses it
    rather than deploying without."""
    out: list[ConfigIssue] = []
    for i, m in enumerate(cfg.models):
        if m.lora_adapters and m.rollout.keep_previous > 0:
            out.append(
                ConfigIssue(
                    f"models[{i}].rollout.keepPrevious",
                    "not yet with loraAdapters: a rollback inside the window would switch the "
                    "model's registry row but not its adapters' rows; set 0 or drop the adapters",
                )
            )
    return out
