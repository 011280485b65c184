"""The GitHub Actions workflows, validated offline.

``check-jsonschema --builtin-schema vendor.github-workflows`` checks each file against the
vendored SchemaStore workflow schema; the structural tests check what the schema cannot: the
order of the jobs, the policy pack on every preview and update, and the approval gates.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.stackfiles import ROOT, STACKS

WORKFLOWS = ROOT / ".github" / "workflows"
CHECK_JSONSCHEMA = [sys.executable, "-m", "check_jsonschema"]


def load(name: str) -> dict[Any, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(data, dict)
    return data


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as True.
    on = workflow.get("on", workflow.get(True))
    assert isinstance(on, dict)
    return on


def validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CHECK_JSONSCHEMA, "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def pulumi_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@")]


def runs(job: dict[str, Any]) -> list[str]:
    return [str(s["run"]) for s in job["steps"] if "run" in s]


def test_every_workflow_file_matches_the_github_workflow_schema() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= {"pull-request.yml", "deploy.yml"}
    result = validate(*files)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "broken",
    [
        # a job without runs-on
        "on: push\njobs:\n  a:\n    steps:\n      - run: make test\n",
        # an unknown trigger
        "on: pull_requests\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: x\n",
        # a step with both run and uses
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: x\n        uses: actions/checkout@v4\n",
    ],
)
def test_the_schema_check_rejects_an_invalid_workflow(tmp_path: Path, broken: str) -> None:
    path = tmp_path / "broken.yml"
    path.write_text(broken)
    result = validate(path)
    assert result.returncode != 0, result.stdout


def test_pull_requests_run_tests_and_lint_then_preview_every_stack_with_the_pack() -> None:
    wf = load("pull-request.yml")
    assert "pull_request" in triggers(wf)
    jobs = wf["jobs"]
    assert runs(jobs["checks"]) == ["make test", "make lint"]
    preview = jobs["preview"]
    assert preview["needs"] == "checks"
    assert sorted(preview["strategy"]["matrix"]["stack"]) == sorted(STACKS)
    assert preview["permissions"]["pull-requests"] == "write"
    [step] = pulumi_steps(preview)
    assert step["uses"] == "pulumi/actions@v6"
    args = step["with"]
    assert args["command"] == "preview"
    assert args["stack-name"] == "${{ matrix.stack }}"
    assert args["policyPacks"] == "policy"
    assert args["comment-on-pr"] is True
    assert "make venv" in runs(preview)


def test_merges_to_main_deploy_development_then_staging_then_production() -> None:
    wf = load("deploy.yml")
    assert triggers(wf)["push"]["branches"] == ["main"]
    assert wf["concurrency"]["cancel-in-progress"] is False
    jobs = wf["jobs"]
    assert runs(jobs["checks"]) == ["make test", "make lint"]
    needs = {"development": "checks", "staging": "development", "production": "staging"}
    for stack, previous in needs.items():
        job = jobs[stack]
        assert job["needs"] == previous
        # The GitHub environment carries the approval rule (required reviewers).
        assert job["environment"] == stack
        [step] = pulumi_steps(job)
        assert step["with"]["command"] == "up"
        assert step["with"]["stack-name"] == stack
        assert step["with"]["policyPacks"] == "policy"


def test_no_workflow_writes_a_secret_into_a_shell_command() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job["steps"]:
                assert "secrets." not in str(step.get("run", "")), (path.name, step)
