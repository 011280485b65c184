"""The GitHub Actions workflows, validated offline.

``check-jsonschema --builtin-schema vendor.github-workflows`` checks each file against the
vendored SchemaStore workflow schema; the structural tests check what the schema cannot: the
order of the jobs, the policy pack on every preview and update, and the approval gates.
"""

from __future__ import annotations

import json
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


def test_pull_requests_post_what_the_change_does_to_each_stack() -> None:
    """`ops plan --against` the base branch for every stack, offline (a hosted runner), its
    output posted as one comment per stack that later pushes update; problems fail the job
    after the comment is posted."""
    job = load("pull-request.yml")["jobs"]["plan"]
    assert job["runs-on"] == "ubuntu-latest"  # reads files only: no target to reach
    assert sorted(job["strategy"]["matrix"]["stack"]) == sorted(STACKS)
    assert job["strategy"]["fail-fast"] is False
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    checkout = job["steps"][0]
    assert checkout["uses"] == "actions/checkout@v4"
    assert checkout["with"]["fetch-depth"] == 0  # the base branch's file is read with git show
    [plan] = [s for s in job["steps"] if s.get("id") == "plan"]
    command = '.venv/bin/python -m ops plan --stack "$STACK" --against "origin/$BASE_REF"'
    assert command in plan["run"] and "> plan.txt 2>&1" in plan["run"]  # errors in the comment
    assert plan["env"] == {"STACK": "${{ matrix.stack }}", "BASE_REF": "${{ github.base_ref }}"}
    names = [s.get("uses") or s.get("run") for s in job["steps"]]
    post = names.index("actions/github-script@v7")
    assert names.index(plan["run"]) < post < len(names) - 1
    script = job["steps"][post]["with"]["script"]
    assert "<!-- ops-plan:${process.env.STACK} -->" in script and "updateComment" in script
    last = job["steps"][-1]
    assert last["if"] == "steps.plan.outputs.status != '0'" and last["run"] == "exit 2"


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
        # The CLI is installed (the action without a command), then ops deploy runs it.
        [install] = pulumi_steps(job)
        assert "command" not in install["with"]
        assert install["with"]["pulumi-version"] == "${{ env.PULUMI_VERSION }}"
        commands = runs(job)
        assert commands.index("make venv") < commands.index(
            f".venv/bin/python -m ops plan --stack {stack}"
        )
        [deploy] = [c for c in commands if "-m ops deploy" in c]
        words = deploy.split()
        assert words[words.index("--stack") + 1] == stack
        assert {"--yes", "--auto-rollback"} <= set(words)
        assert words[words.index("--policy-pack") + 1] == "policy"


def test_the_pinned_cli_is_the_sdks_version() -> None:
    import importlib.metadata

    sdk = importlib.metadata.version("pulumi")
    for name in ("deploy.yml", "drift.yml"):
        assert load(name)["env"]["PULUMI_VERSION"] == sdk, name


DEFAULT_RUNNER = {stack: ["self-hosted", f"vllm-{stack}"] for stack in STACKS}


def runner_expression(job: dict[str, Any]) -> str:
    value = job["runs-on"]
    assert isinstance(value, str) and value.startswith("${{") and value.endswith("}}"), value
    return " ".join(value[3:-2].split())


def test_jobs_that_reach_the_targets_run_on_the_environments_runner() -> None:
    """Linode API, the cluster API through its ACL and the registry database are reached from
    the runner: those jobs take the per-environment runner variable, self-hosted by default;
    the checks (no target reached) stay on GitHub-hosted runners."""
    deploy = load("deploy.yml")["jobs"]
    for stack in STACKS:
        expr = runner_expression(deploy[stack])
        assert expr == (
            f"fromJSON(vars.DEPLOY_RUNNER_{stack.upper()} || '{json.dumps(DEFAULT_RUNNER[stack])}')"
        )
    per_matrix = (
        "fromJSON(vars[format('DEPLOY_RUNNER_{0}', matrix.stack)] || "
        'format(\'["self-hosted", "vllm-{0}"]\', matrix.stack))'
    )
    assert runner_expression(load("pull-request.yml")["jobs"]["preview"]) == per_matrix
    assert runner_expression(load("drift.yml")["jobs"]["drift"]) == per_matrix
    for name in ("deploy.yml", "pull-request.yml"):
        assert load(name)["jobs"]["checks"]["runs-on"] == "ubuntu-latest"


def test_no_committed_stack_is_reachable_from_a_hosted_runner() -> None:
    """Why the default is self-hosted: what `ops plan` says for every committed stack."""
    from ops.reach import hosted_runner_can_deploy
    from tests.support.stackfiles import stack_config

    for stack in STACKS:
        assert not hosted_runner_can_deploy(stack_config(stack)), stack


def test_drift_runs_daily_refreshes_and_expects_no_changes_for_every_stack() -> None:
    wf = load("drift.yml")
    on = triggers(wf)
    assert on["schedule"] and "workflow_dispatch" in on
    job = wf["jobs"]["drift"]
    assert sorted(job["strategy"]["matrix"]["stack"]) == sorted(STACKS)
    assert job["strategy"]["fail-fast"] is False  # one stack's drift does not hide another's
    [step] = pulumi_steps(job)
    args = step["with"]
    assert args["command"] == "preview"
    assert args["stack-name"] == "${{ matrix.stack }}"
    assert args["refresh"] is True and args["expect-no-changes"] is True
    assert args["policyPacks"] == "policy"
    # Loudly: a failure opens or comments on an issue.
    report = wf["jobs"]["report"]
    assert report["needs"] == "drift" and report["if"] == "failure()"
    assert report["permissions"] == {"issues": "write"}
    assert "gh issue create" in runs(report)[0]
    # Shares the deploy's concurrency group: a drift check never runs beside an `up`.
    assert wf["concurrency"]["group"] == load("deploy.yml")["concurrency"]["group"]


def test_no_workflow_writes_a_secret_into_a_shell_command() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job["steps"]:
                assert "secrets." not in str(step.get("run", "")), (path.name, step)
