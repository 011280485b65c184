"""`ops plan --against` for a model with ``rollout.restart: allAtOnce`` (#27): the restart is said
to be downtime, and the time until it serves again is one pod's restart, not replicas x."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.ops.test_plan_report import (  # noqa: F401
    NEW_IMAGE,
    P,
    against,
    edit_stack,
    git,
    repo,
)


def _all_at_once(cfg: dict[str, Any]) -> None:
    cfg[P + "cluster"]["k8sVersion"] = "1.37"
    cfg[P + "models"][1].update(allowDowntime=True, rollout={"restart": "allAtOnce"})


def test_a_new_image_restarts_every_replica_at_once_and_says_it_is_downtime(
    repo: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    edit_stack(repo / "Pulumi.production.yaml", _all_at_once)
    git(repo, "commit", "-qam", "all at once")
    git(repo, "tag", "opted")
    edit_stack(
        repo / "Pulumi.production.yaml", lambda c: c[P + "models"][1].update(image=NEW_IMAGE)
    )
    text = "\n".join(against(capsys, repo, "opted"))
    assert (
        "llama-3-1-8b-instruct: image changed: restarts 2 replica(s), all at once "
        "(rollout.restart): downtime, no replica serves until the new pods are ready; "
        "smoke test again"
    ) in text, text
    # once (not 2 x): 30 s scheduling + 45.7 s load at 350 MB/s + 110 s cold compile = 3.1 min
    assert "Time to ready (estimate): 3.1 min (llama-3-1-8b-instruct; models change" in text
