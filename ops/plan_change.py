"""The lines of `ops plan --against REF`: what changing a stack from one validated config to
another does, for the reviewer of a pull request.

Which models restart and how (the new plan's rollout strategy), which objects are replaced and
whether delete-first or create-first, the spare GPUs needed meanwhile, the registry rows'
states, the secrets newly required, the time until every changed model serves again, and the
GPU cost change. Objects come from ``components.manifests.changes`` (both configs rendered and
compared), times from ``components.planning.change_timing``, costs from
``components.planning.cost``; stack-level keys are explained with the same facts as
``ops plan --explain``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from components.config import LoadedStack, ModelConfig, StackConfig
from components.manifests.changes import (
    ModelChange,
    StackChanges,
    stack_changes,
    stack_key_changes,
)
from components.manifests.lke import cluster_label
from components.manifests.vllm.streamer import staged_copies, staged_copy
from components.planning.capacity import RolloutStrategy, StackPlan
from components.planning.change_timing import change_seconds
from components.planning.cost import PoolCost, pool_cost
from components.planning.timing import COLD_START_TARGET_SECONDS
from components.planning.transitions import create_first_findings
from ops.plan_cost import usd as _usd
from ops.plan_explain import what_ifs
from ops.plan_lora import adapter_note, adapter_registry_lines
from ops.plan_previous import KeptRollout, kept_rollouts, rollout_line, stray_previous


@dataclass(frozen=True)
class Side:
    """One validated version of the stack file."""

    loaded: LoadedStack
    plan: StackPlan

    @property
    def config(self) -> StackConfig:
        return self.loaded.config


def needed_secrets(loaded: LoadedStack) -> set[str]:
    """The secret keys the stack needs, set or not."""
    return set(LoadedStack(loaded.config, frozenset()).missing_secrets)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def _delta(old: float, new: float) -> str:
    d = new - old
    return "no change" if round(d) == 0 else f"{'+' if d > 0 else '-'}{_usd(abs(d))}"


_HOW = {
    RolloutStrategy.SURGE: "one at a time, each new pod started before an old one stops",
    RolloutStrategy.ONE_DOWN: "one at a time, the others serving",
    RolloutStrategy.DOWNTIME: "its only replica: down until the new pod is ready",
    RolloutStrategy.ALL_AT_ONCE: (
        "all at once (rollout.restart): downtime, no replica serves until the new pods are ready"
    ),
}


def _model_line(
    change: ModelChange, before: Side, new: Side, rollouts: dict[str, KeptRollout], at: datetime
) -> str:
    name = change.name
    if change.status == "removed":
        return f"{name}: removed; its objects are deleted"
    model = next(m for m in new.config.models if m.name == name)
    unit = f"{model.gpus_per_replica} GPU" if model.accelerator == "gpu" else "CPU"
    size = f"{model.replicas} x {unit}"
    if change.status == "added":
        return f"{name}: new ({size}), started cold"
    if change.status == "renamed":
        return (
            f"{name}: renamed from {change.renamed_from}: new objects ({size}) created "
            "before the old ones are deleted (create-first)"
        )
    what = f"{name}: {', '.join(change.keys) or 'derived values'} changed"
    was = next((m for m in before.config.models if m.name == name), None)
    adapters = adapter_note(was, model) if was is not None else ""
    what += f" ({adapters})" if adapters else ""
    if name in rollouts:
        return f"{what}: {rollout_line(rollouts[name], size, at)}"
    if change.workload_replaced:
        return (
            f"{what}: the workload is replaced delete-first ({', '.join(change.workload_replaced)}"
            "): every replica down at once, its volumes deleted, the weights downloaded again"
        )
    if change.kind_switch:
        old_kind, new_kind = change.kind_switch
        return (
            f"{what}: {old_kind} -> {new_kind}, created before the old one is deleted "
            f"(create-first); then every replica restarts"
        )
    parts = []
    if change.restarts:
        strategy = new.plan.model(name).strategy
        parts.append(f"restarts {model.replicas} replica(s), {_HOW[strategy]}")
    if change.replicas:
        old, now = change.replicas
        parts.append(f"{old} -> {now} replicas" + (" (new ones start cold)" if now > old else ""))
    if change.routing:
        parts.append("routing " + ("on" if change.routing[1] else "off"))
    if change.smoke_again:
        parts.append("smoke test again")
    return f"{what}: " + ("; ".join(parts) if parts else "updated in place, no restart")


def _registry_line(change: ModelChange) -> str | None:
    name = change.name
    if change.status in ("added", "renamed"):
        line = f"{name}: no row until its smoke test passes, then registered (healthy)"
        return line + (f"; {change.renamed_from}: retired" if change.renamed_from else "")
    if change.status == "removed":
        return f"{name}: retired (routing off; the row and its events are kept)"
    if change.smoke_again:
        return (
            f"{name}: rolling_out until the new smoke test passes on every replica, then "
            "healthy (updated); rollout_failed at its deadline"
        )
    if change.routing:
        return f"{name}: routing_enabled {str(change.routing[1]).lower()}"
    return None


def _stages(model: ModelConfig, old: Side, new: Side) -> bool:
    """Whether the staging Job copies ``model``'s revision before its servers change: it streams
    a revision the stack's bucket did not hold (a new revision, a switch to the bucket, a new
    bucket label or region)."""
    return model.streams_weights and staged_copy(new.config, model) not in staged_copies(old.config)


def _seconds(change: ModelChange, old: Side, new: Side, blue_green: set[str]) -> float:
    """Until the changed model serves again; a keepPrevious rollout's new revision is a new
    workload, started cold."""
    if change.status == "removed":
        return 0.0
    model = next(m for m in new.config.models if m.name == change.name)
    grown = change.replicas[1] - change.replicas[0] if change.replicas else 0
    return change_seconds(
        new.config.timing,
        model,
        keys=frozenset(change.keys),
        added=change.status in ("added", "renamed")
        or change.kind_switch is not None
        or change.name in blue_green,
        replaced=bool(change.workload_replaced),
        restarts=change.restarts,
        new_replicas=grown,
        staged=_stages(model, old, new),
    )


def _what(path: str, new: Side) -> str:
    """A finding's key path as the model (or namespace) it is about."""
    index = re.match(r"models\[(\d+)\]", path)
    if index is None:
        return f"the {path} move" if path == "namespace" else path
    return new.config.models[int(index.group(1))].name


def _spare_lines(changes: StackChanges, old: Side, new: Side) -> tuple[list[str], list[str]]:
    """GPUs held twice while the change runs (create-first objects: planning.transitions;
    surge pods), and the create-first changes the quota cannot hold (problems)."""
    findings = create_first_findings(old.config, new.config)
    held = [
        f"{f.spare_gpus} for {_what(f.path, new)} (create-first)" for f in findings if f.spare_gpus
    ]
    for c in changes.models:
        plan = new.plan.model(c.name) if c.status != "removed" else None
        if plan is not None and c.restarts and plan.strategy is RolloutStrategy.SURGE:
            held.append(f"{plan.gpus_per_replica} for {c.name} (surge)")
    spare = new.plan.spare_gpus + new.plan.surge_gpus
    line = (
        f"Spare GPUs meanwhile: {', '.join(held)}; the budget has {spare} beyond the replicas"
        if held
        else "Spare GPUs meanwhile: none"
    )
    return [line], [str(f) for f in findings if f.refused]


# What-if facts after which every model starts over on new nodes or as new objects.
_STARTS_OVER = re.compile(r"models are down|every Kubernetes object")


# Keys whose unset value derives one: the value, either way, is what a change is about.
_DERIVED: dict[str, Callable[[StackConfig], str]] = {
    "namespace": lambda c: c.namespace_name,
    "cluster.label": cluster_label,
    "weightStore.bucket": lambda c: c.bucket_label,
}


def _stack_lines(old: Side, new: Side) -> tuple[list[str], bool]:
    """Keys outside ``models`` that differ, each with what the catalogue says a change does,
    and whether one of them makes every model start over. A default spelled out (or a value
    equal to it removed) changes nothing."""
    facts = what_ifs(old.config)
    lines, over = [], False
    for key, was, now in stack_key_changes(old.config, new.config):
        derived = _DERIVED.get(key)
        if derived is not None and derived(old.config) == derived(new.config):
            continue
        effect = next((f.split(": ", 1)[1] for f in facts if f.startswith(f"{key}=")), "")
        over = over or bool(_STARTS_OVER.search(effect))
        lines.append(f"{key}: {was} -> {now}" + (f": {effect}" if effect else ""))
    return lines, over


def _time_line(
    changes: StackChanges, old: Side, new: Side, starts_over: bool, blue_green: set[str]
) -> list[str]:
    """Until every changed model serves again: models change in parallel, each model's pods
    one at a time; after a replaced cluster, pool or namespace every model starts cold; a
    revision the bucket does not hold is staged first."""
    timed = [(s, c.name) for c in changes.models if (s := _seconds(c, old, new, blue_green)) > 0]
    if starts_over:
        timing = new.config.timing
        timed += [
            (change_seconds(timing, m, added=True, staged=_stages(m, old, new)), m.name)
            for m in new.config.models
        ]
    if not timed:
        return []
    seconds, slowest = max(timed)
    over = " !" if seconds > COLD_START_TARGET_SECONDS else ""
    why = "every model starts again" if starts_over else "models change in parallel"
    return [f"Time to ready (estimate): {_minutes(seconds)}{over} ({slowest}; {why})"]


def _bucket_lines(old: StackConfig, new: StackConfig) -> list[str]:
    """The stack's bucket (a Linode resource, beside the Kubernetes objects) when the change
    makes the first model stream or the last one stop (docs/operations.md)."""
    was, now = (any(m.streams_weights for m in c.models) for c in (old, new))
    if was == now:
        return []
    cfg = new if now else old
    what = f"ObjectStorageBucket {cfg.bucket_label} (with its key)"
    if now:
        return [f"{what}: create in {cfg.cluster.region}"]
    gone = f"{what}: delete, emptied first: every staged revision goes"
    if cfg.protected:
        gone += "; refused while protected: docs/operations.md, Stop streaming a model's weights"
    return [gone]


def _cost_line(old: PoolCost | None, new: PoolCost | None) -> str:
    lo = (old.monthly_min_usd, old.monthly_max_usd) if old else (0.0, 0.0)
    hi = (new.monthly_min_usd, new.monthly_max_usd) if new else (0.0, 0.0)
    if lo == hi:
        return f"GPU cost: unchanged ({_usd(hi[0])} to {_usd(hi[1])} a month at list price)"
    return (
        f"GPU cost a month at list price: {_usd(lo[0])} -> {_usd(hi[0])} at the pool's minimum "
        f"({_delta(lo[0], hi[0])}), {_usd(lo[1])} -> {_usd(hi[1])} at its maximum "
        f"({_delta(lo[1], hi[1])})"
    )


@dataclass(frozen=True)
class ChangeReport:
    lines: list[str]
    changes: int  # models, stack keys and other objects that change
    problems: list[str]  # what the change cannot do as it is, or would do against its intent


def change_lines(old: Side, new: Side, ref: str = "REF") -> ChangeReport:
    """The report's lines (after the verdict), how many things change, and its problems
    (create-first beyond the quota; a keepPrevious rollout that keeps nothing of ``ref``)."""
    at = datetime.now(UTC)
    changes = stack_changes(old.loaded, old.plan, new.loaded, new.plan)
    rollouts = {r.model.name: r for r in kept_rollouts(old, new, ref, at)}
    stack, starts_over = _stack_lines(old, new)
    lines: list[str] = []
    if changes.models:
        lines += ["Models:"] + [
            f"  - {_model_line(c, old, new, rollouts, at)}" for c in changes.models
        ]
    if stack:
        lines += ["Stack:"] + [f"  - {s}" for s in stack]
    shared = [c for c in changes.shared if c.action != "update"]
    others = [
        f"{c.kind} {c.name}: {c.action}"
        + (f" delete-first ({', '.join(c.fields)})" if c.fields else "")
        for c in shared
    ] + _bucket_lines(old.config, new.config)
    if others:
        lines += ["Other objects:"] + [f"  - {o}" for o in others]
    spare, problems = _spare_lines(changes, old, new)
    lines += spare
    registry = [
        line
        for c in changes.models
        for line in [r for r in (_registry_line(c),) if r is not None]
        + adapter_registry_lines(c, old.config, new.config)
    ]
    lines += ["Registry:"] + [f"  - {r}" for r in registry] if registry else ["Registry: no change"]
    newly = sorted(needed_secrets(new.loaded) - needed_secrets(old.loaded))
    unset = [k for k in newly if k not in new.loaded.secrets_set]
    lines.append(
        "Secrets newly required: "
        + (", ".join(f"{k} ({'not set yet' if k in unset else 'set'})" for k in newly) or "none")
    )
    lines += _time_line(changes, old, new, starts_over, set(rollouts))
    lines.append(_cost_line(pool_cost(old.config), pool_cost(new.config)))
    problems += [p for r in rollouts.values() for p in r.problems]
    problems += stray_previous(old, new, ref, at)
    return ChangeReport(lines, len(changes.models) + len(stack) + len(others), problems)
