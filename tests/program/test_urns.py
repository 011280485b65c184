"""URNs must not move: a renamed type token, child or parent replaces the live resource.

``data/urns.json`` records the URN of every resource each committed stack registers. A URN may
only disappear when some registered resource carries it as an alias (``aliases=[...]``), which
tells the engine to adopt the old resource instead of deleting and recreating it. New URNs are
fine (new resources). Regenerate the file only for an intended, aliased change:
``python -m tests.program.urns --write``.
"""

from __future__ import annotations

import pytest

from tests.program.urns import recorded_urns
from tests.support.harness import committed_run
from tests.support.stackfiles import committed_stacks

pytestmark = pytest.mark.program


@pytest.mark.parametrize("stack", committed_stacks())
def test_every_recorded_urn_is_still_registered_or_aliased(stack: str) -> None:
    recorded = recorded_urns().get(stack)
    assert recorded, f"no URNs recorded for stack {stack}; run python -m tests.program.urns --write"
    run = committed_run(stack)
    live = {r.urn for r in run.resources}
    aliased = {alias for r in run.resources for alias in r.aliases}
    moved = [urn for urn in recorded if urn not in live and urn not in aliased]
    assert not moved, (
        f"{len(moved)} URN(s) of stack {stack} moved without an alias (the engine would delete "
        "and recreate them):\n  " + "\n  ".join(moved)
    )


def test_every_committed_stack_has_recorded_urns() -> None:
    assert sorted(recorded_urns()) == committed_stacks()
