"""For each model that misses SC-001 (cold start) or SC-004 (rollback), the option that closes the
miss: an fp8-stored checkpoint (fewer bytes), the Object Storage weight source (faster bytes),
``rollout.keepPrevious`` (a rollback without a restart, for the model's GPUs once more), the
smallest set of them that does it, or, when none does, how close all of them get.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import combinations

from components.config import ConfigError, ConfigIssue, ModelConfig, StackConfig, TimingConfig
from components.config.readiness import Rollout, WeightSource
from components.planning.capacity import plan_stack
from components.planning.checkpoints import fp8_alternative
from components.planning.timing import (
    COLD_START_TARGET_SECONDS,
    ROLLBACK_TARGET_SECONDS,
    ModelTiming,
    estimate_model,
)


@dataclass(frozen=True, slots=True)
class Option:
    key: str  # what to set, as the user writes it
    apply: Callable[[ModelConfig], ModelConfig]


def _options(m: ModelConfig, *, rollback: bool) -> list[Option]:
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
    if m.weight_source.kind != "objectStorage":
        out.append(
            Option(
                "weightSource.kind: objectStorage",
                lambda x: x.model_copy(
                    update={"weight_source": WeightSource(kind="objectStorage")}
                ),
            )
        )
    if rollback and m.rollout.keep_previous == 0 and m.accelerator == "gpu":
        out.append(
            Option(
                f"rollout.keepPrevious: <minutes> (+{m.gpus_total} GPUs during the window)",
                lambda x: x.model_copy(update={"rollout": Rollout(keep_previous=1)}),
            )
        )
    return out


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


def closing_options(timing: TimingConfig, m: ModelConfig, t: ModelTiming) -> dict[str, str]:
    """Per missed target of ``m`` (``SC-001``, ``SC-004``), what closes it."""
    out: dict[str, str] = {}
    if t.cold_start > COLD_START_TARGET_SECONDS:
        found, figure, ok = _smallest_closing(
            timing,
            m,
            _options(m, rollback=False),
            lambda e: e.cold_start,
            COLD_START_TARGET_SECONDS,
        )
        out["SC-001"] = _sentence(figure, COLD_START_TARGET_SECONDS, found, ok)
    if t.rollback > ROLLBACK_TARGET_SECONDS:
        found, figure, ok = _smallest_closing(
            timing, m, _options(m, rollback=True), lambda e: e.rollback, ROLLBACK_TARGET_SECONDS
        )
        out["SC-004"] = _sentence(figure, ROLLBACK_TARGET_SECONDS, found, ok)
    return out


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
