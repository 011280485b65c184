"""`ops plan --against REF` and ``models[].rollout.keepPrevious`` (#27): a change that rolls out a
new image or revision keeps the one REF served only when ``rollout.previous`` names it, with a
window that ends after the `pulumi up`, and nothing else of the model changes with it. Otherwise
the running pods go (or restart) and a rollback restarts pods: the miss keepPrevious exists to
close. Each such change is a problem naming its key path (a missing ``previous``: the YAML to
add); a right one is said in the model's plan line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from components.config import ModelConfig, StackConfig
from components.config.readiness import KEEP_PREVIOUS_MAX_MINUTES
from components.manifests.changes import changed_keys, stack_key_changes
from components.manifests.vllm.names import workload_name
from components.manifests.vllm.render import kept_workload
from components.manifests.vllm.workload import workload
from components.planning.capacity import StackPlan
from components.planning.keep_previous import kept_gpus, kept_revision

UNTIL_STEP_MINUTES = 5  # the suggested window's end is rounded up to this
NOT_KEPT = "the running revision is not kept as it runs (Problems): a rollback restarts pods"


class Version(Protocol):
    """One validated version of the stack (``plan_change.Side``)."""

    @property
    def config(self) -> StackConfig: ...

    @property
    def plan(self) -> StackPlan: ...


@dataclass(frozen=True, slots=True)
class KeptRollout:
    """A keepPrevious model (``models[index]``) whose served image or revision changes."""

    index: int
    model: ModelConfig  # in the working tree
    was: ModelConfig  # at the ref
    problems: tuple[str, ...]  # each names its key path; none: the ref's revision is kept


def suggested_until(minutes: int, at: datetime) -> str:
    """``at`` + ``minutes``, rounded up to ``UNTIL_STEP_MINUTES``, as RFC 3339 in UTC."""
    step = UNTIL_STEP_MINUTES * 60
    end = (at + timedelta(minutes=minutes)).timestamp()
    return datetime.fromtimestamp(math.ceil(end / step) * step, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _missing(r: KeptRollout, ref: str, at: datetime) -> str:
    m, minutes = r.model, r.model.rollout.keep_previous
    return "\n".join(
        [
            f"models[{r.index}].rollout.previous: {m.name} rolls out a new image or revision "
            f"with keepPrevious {minutes} but names no previous revision: nothing is kept, the "
            f"pods of the revision {ref} serves are deleted once the new ones serve and a "
            f"rollback restarts pods. Add under models[{r.index}].rollout (until: now + "
            f"{minutes} min, rounded up; the window must end after the `pulumi up`: move it by "
            "as much as the up runs later):",
            "    previous:",
            f"      image: {r.was.image}",
            f"      revision: {r.was.revision}",
            f'      until: "{suggested_until(minutes, at)}"',
        ]
    )


def _other_keys(r: KeptRollout, old: Version, new: Version) -> str:
    """What else changes with the rollout (the kept workload is built from the new config)."""
    keys = [
        k
        for k in changed_keys(r.was, r.model)
        if k not in ("image", "revision") and not k.startswith("rollout.")
    ]
    keys += [key for key, _, _ in stack_key_changes(old.config, new.config)]
    return ", ".join(keys) or "derived values"


def _problems(r: KeptRollout, old: Version, new: Version, ref: str, at: datetime) -> list[str]:
    kept, was, i = r.model.rollout.previous, r.was, r.index
    if kept is None:
        return [_missing(r, ref, at)]
    wrong = [
        f"models[{i}].rollout.previous.{key}: {ours} is not the {key} {ref} serves ({theirs}): "
        f"{ref}'s pods are deleted once the new ones serve and a rollback restarts pods; set "
        f"it to {theirs}"
        for key, ours, theirs in (
            ("image", kept.image, was.image),
            ("revision", kept.revision, was.revision),
        )
        if ours != theirs
    ]
    if wrong:
        return wrong
    if at >= kept.until_time:
        return [
            f"models[{i}].rollout.previous.until: {kept.until} has passed: nothing is kept and "
            f"a rollback restarts pods; set it to the window's end after the `pulumi up`, e.g. \""
            f'{suggested_until(r.model.rollout.keep_previous, at)}" (now + '
            f"{r.model.rollout.keep_previous} min, rounded up)"
        ]
    # the suggested end (now + keepPrevious, rounded up) may pass the limit by the rounding
    if kept.until_time - at > timedelta(minutes=KEEP_PREVIOUS_MAX_MINUTES + UNTIL_STEP_MINUTES):
        return [
            f"models[{i}].rollout.previous.until: {kept.until} is {_from_now(kept.until_time - at)}"
            f", but the registry names a rollback target for at most {KEEP_PREVIOUS_MAX_MINUTES} "
            "min after the `pulumi up`: the kept replicas would go on holding "
            f"{kept_gpus(r.model)} GPUs after it without being what a rollback switches to; set "
            f'it to the window\'s end, e.g. "{suggested_until(r.model.rollout.keep_previous, at)}"'
            f" (now + {r.model.rollout.keep_previous} min, rounded up)"
        ]
    held = kept_workload(new.config, r.model, new.plan.model(r.model.name), at)
    if held != workload(old.config, was, old.plan.model(was.name)):
        return [
            f"models[{i}].rollout.previous: the kept revision would not run as {ref} runs it: "
            f"this change also changes {_other_keys(r, old, new)}, and the kept workload is "
            "built from this change's config, so its pods restart and a rollback restarts "
            "pods; roll out the new image or revision in a change of its own"
        ]
    return []


def kept_rollouts(old: Version, new: Version, ref: str, at: datetime) -> list[KeptRollout]:
    """The models with keepPrevious on both sides whose served image or revision changes, each
    with what keeps the revision ``ref`` serves from being kept (a model new since ``ref``, or
    with keepPrevious turned on now, has nothing to keep: ``stray_previous``)."""
    before = {m.name: m for m in old.config.models}
    out: list[KeptRollout] = []
    for i, m in enumerate(new.config.models):
        was = before.get(m.name)
        if was is None or not (was.rollout.keep_previous and m.rollout.keep_previous):
            continue
        if (was.image, was.revision) == (m.image, m.revision):
            continue
        r = KeptRollout(i, m, was, ())
        out.append(replace(r, problems=tuple(_problems(r, old, new, ref, at))))
    return out


def stray_previous(old: Version, new: Version, ref: str, at: datetime) -> list[str]:
    """A ``previous`` on a model that had no keepPrevious at ``ref`` (new, renamed, or turned
    on now): no running workload is that revision, so keeping it starts it cold."""
    had = {m.name for m in old.config.models if m.rollout.keep_previous}
    return [
        f"models[{i}].rollout.previous: {ref} runs no {m.name} with keepPrevious (a new model, "
        "or keepPrevious turned on in this change), so no running revision is kept: the one "
        f"it names would start cold and hold {kept_gpus(m)} GPUs; drop rollout.previous (the "
        "next rollout names the revision it replaces)"
        for i, m in enumerate(new.config.models)
        if m.name not in had and kept_revision(m, at) is not None
    ]


def _from_now(left: timedelta) -> str:
    minutes = math.ceil(left.total_seconds() / 60)
    if minutes < 120:
        return f"{minutes} min from now"
    hours = minutes / 60
    return f"{hours:.0f} h from now" if hours < 48 else f"{hours / 24:.0f} days from now"


def rollout_line(r: KeptRollout, size: str, at: datetime) -> str:
    """What the rollout does, after the model's name and changed keys."""
    line = (
        f"blue/green (rollout.keepPrevious): {workload_name(r.model)} ({size}) starts cold "
        f"beside {workload_name(r.was)}; the Services switch once it is ready"
    )
    kept = r.model.rollout.previous
    if r.problems or kept is None:
        return f"{line}; {NOT_KEPT}"
    return (
        f"{line}; {workload_name(r.was)} keeps serving {kept.image} at {kept.revision} until "
        f"{kept.until} ({_from_now(kept.until_time - at)}), the rollback target: a rollback to "
        "the version before inside the window is a switch, no restart"
    )
