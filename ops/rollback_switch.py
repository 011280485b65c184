"""`ops rollback` inside a ``rollout.keepPrevious`` window (#27): a model whose restored config
serves exactly its kept revision (the restored workload is, field for field, the one still
running) rolls back by a switch: the registry flips first (``switch_to_previous``, one
statement), then the `pulumi up` flips the Services' selector to the running pods and removes the
new revision; no pod restarts. docs/rollback.md "Rollback without a restart".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from components.config import ConfigError, StackConfig
from components.manifests.vllm.render import kept_workload
from components.manifests.vllm.workload import workload
from components.planning.capacity import plan_stack
from components.registry.connection import connect
from components.registry.previous import switch_to_previous


@dataclass(frozen=True, slots=True)
class Switch:
    """A model that rolls back to its kept revision without a restart."""

    model: str
    image: str
    revision: str
    until: str


def kept_switches(now: StackConfig, then: StackConfig, at: datetime | None = None) -> list[Switch]:
    """The models of ``now`` (today's config) whose kept revision at ``at`` (default: now) is
    exactly the workload ``then`` (the restored config) serves."""
    try:
        now_plan, then_plan = plan_stack(now), plan_stack(then)
    except ConfigError:
        return []
    restored = {m.name: m for m in then.models}
    out: list[Switch] = []
    for m in now.models:
        back, kept = restored.get(m.name), m.rollout.previous
        if back is None or kept is None:
            continue
        running = kept_workload(now, m, now_plan.model(m.name), at)
        if running is not None and running == workload(then, back, then_plan.model(back.name)):
            out.append(Switch(m.name, kept.image, kept.revision, kept.until))
    return out


def switch_lines(switches: Sequence[Switch]) -> list[str]:
    """What the plan says of them."""
    return [
        f"  {s.model}: switches back to its kept revision {s.image} at {s.revision} (serving "
        f"until {s.until}): registry and Service in seconds, no pod restarts; the new "
        "revision's replicas are removed"
        for s in switches
    ]


def switch_registry(
    dsn: str, environment: str, switches: Sequence[Switch], *, owner: str, stack: str
) -> list[str]:
    """Flip each model's registry row to its rollback target (``switch_to_previous``); a line
    per model saying what happened."""
    lines: list[str] = []
    with connect(dsn, autocommit=True) as conn:
        for s in switches:
            outcome = switch_to_previous(
                conn, environment, s.model, owner=owner, stack=stack, note="ops rollback"
            )
            done = outcome is not None and outcome.action == "rolled_back"
            lines.append(
                f"{s.model}: registry switched back to {s.image} at {s.revision}"
                if done
                else f"{s.model}: the registry names no rollback target (window over or "
                "already switched); the entry follows once the smoke test passed"
            )
    return lines
