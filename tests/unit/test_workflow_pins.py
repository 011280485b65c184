"""Every workflow that runs the Pulumi CLI runs the version the SDK is pinned to.

``pulumi/actions`` installs the newest CLI unless ``pulumi-version`` says otherwise; an
unpinned preview may then diff with another engine than the one ``deploy`` updates with.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.support.stackfiles import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def _sdk_pin() -> str:
    found = re.search(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert found is not None
    return found.group(1)


def _pulumi_steps() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    out = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow = yaml.safe_load(path.read_text())
        for job in workflow.get("jobs", {}).values():
            env = {**workflow.get("env", {}), **job.get("env", {})}
            for step in job.get("steps", []):
                if str(step.get("uses", "")).startswith("pulumi/actions@"):
                    out.append((path.name, env, step))
    return out


STEPS = _pulumi_steps()


def test_the_pull_request_previews_run_the_cli() -> None:
    assert "pull-request.yml" in {name for name, _, _ in STEPS}


@pytest.mark.parametrize(("workflow", "env", "step"), STEPS, ids=[s[0] for s in STEPS])
def test_every_pulumi_step_pins_the_cli_to_the_sdk_version(
    workflow: str, env: dict[str, Any], step: dict[str, Any]
) -> None:
    version = str(step.get("with", {}).get("pulumi-version", ""))
    assert version == "${{ env.PULUMI_VERSION }}", f"{workflow}: {step}"
    assert env.get("PULUMI_VERSION") == _sdk_pin(), workflow
