"""`python -m ops plan` and `python -m ops schema`, run as a user runs them."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from ops.schema import render
from tests.support.ops_cli import ops
from tests.support.stackfiles import ROOT, STACKS


@pytest.mark.parametrize("stack", STACKS)
def test_plan_prints_every_model_endpoint_and_the_secrets_to_set(stack: str) -> None:
    result = ops("plan", "--stack", stack)
    assert result.returncode == 0, result.stderr
    cfg = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    ns = cfg["vllm-platform:namespace"]
    for model in cfg["vllm-platform:models"]:
        assert f"http://{model['name']}.{ns}.svc.cluster.local:8000/v1" in result.stdout
    # --stack names the stack, so the secret cannot land in whichever one is selected
    assert f"pulumi config set --stack {stack} --secret vllmApiKey" in result.stdout
    assert "Traceback" not in result.stderr


def test_plan_of_an_invalid_file_exits_2_listing_every_error(tmp_path: Path) -> None:
    doc = yaml.safe_load((ROOT / "Pulumi.production.yaml").read_text())
    doc["config"]["vllm-platform:models"][1]["image"] = "vllm/vllm-openai:latest"
    doc["config"]["vllm-platform:models"][2]["gpusPerReplica"] = 3
    doc["config"]["vllm-platform:registry"]["password"] = "hunter2"
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    result = ops("plan", "--file", str(bad))
    assert result.returncode == 2
    # First line the verdict, then every problem with its key path.
    assert result.stdout.splitlines()[0] == "4 problems · Pulumi.bad.yaml"
    assert "models[1].image:" in result.stdout
    assert "models[2].gpusPerReplica:" in result.stdout
    assert "registry.password:" in result.stdout
    assert "hunter2" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [("config: [1, 2", "not valid YAML"), ("- a\n- b\n", "expected a mapping")],
)
def test_plan_of_an_unreadable_file_is_a_clear_error(
    tmp_path: Path, content: str, message: str
) -> None:
    bad = tmp_path / "Pulumi.x.yaml"
    bad.write_text(content)
    result = ops("plan", "--file", str(bad))
    assert result.returncode == 2
    assert result.stdout.startswith("1 problem · Pulumi.x.yaml")
    assert message in result.stdout and "Traceback" not in result.stderr


def test_plan_of_an_unknown_stack_names_the_known_ones() -> None:
    result = ops("plan", "--stack", "prod")
    assert result.returncode == 2
    assert "development, production, staging" in result.stderr


def test_committed_json_schema_is_current() -> None:
    committed = (ROOT / "schema/stack-config.schema.json").read_text()
    assert committed == render(), "run `python -m ops schema`"


def test_json_schema_accepts_the_stack_files_and_rejects_unknown_project_keys() -> None:
    schema = json.loads(render())
    for stack in STACKS:
        jsonschema.validate(yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text()), schema)
    doc = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())
    doc["config"]["vllm-platform:modelz"] = []
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)
    doc["config"].pop("vllm-platform:modelz")
    doc["config"]["vllm-platform:vllmApiKey"] = "plain"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)


def test_the_config_reference_in_the_docs_is_current() -> None:
    from ops.schema import REFERENCE_DOC, doc_with_reference

    doc = (ROOT / REFERENCE_DOC).read_text()
    assert doc == doc_with_reference(doc), "run `python -m ops schema --docs`"


def test_ci_runs_exactly_the_documented_test_command() -> None:
    contributing = (ROOT / "CONTRIBUTING.md").read_text()
    tests_section = contributing[contributing.index("## Tests") :]
    command = tests_section.split("```sh\n", 1)[1].split()[0:2]
    ci = (ROOT / ".ci/run").read_text().splitlines()
    assert " ".join(command) == "make test"
    assert "make test" in ci
    readme = (ROOT / "README.md").read_text()
    quickstart = readme[readme.index("## Quickstart") :]
    assert quickstart.split("```sh\n", 1)[1].startswith("make test\n")


def _plan_text(stack: str) -> str:
    from components.config import load_stack_config
    from components.planning.capacity import plan_stack
    from ops.plan_report import format_plan
    from tests.support.stackfiles import raw_stack

    loaded = load_stack_config(raw_stack(stack))
    return format_plan(loaded, plan_stack(loaded.config), f"Pulumi.{stack}.yaml")


def test_plan_shows_load_serving_concurrency_and_cache_in_one_table_then_cautions() -> None:
    lines = _plan_text("production").splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("MODEL "))
    for column in ("LOAD GiB/GPU", "SERVE GiB need/avail", "KV GiB", "SEQS @maxLen", "CACHE"):
        assert column in lines[header]
    row = lines[header + 1].split()
    # 70B: bf16 checkpoint (131.5 GiB / 2 GPUs + 1) at load, fp8 while serving, 290 GiB cache
    assert row[:5] == ["llama-3-3-70b-instruct", "2x2", "bf16->fp8", "66.8/96", "80.9/176.6"]
    assert row[6:10] == ["19.1", "@32768", "306", "290Gi"]
    before = "\n".join(lines[:header])
    assert "Placement (worst case, 7 nodes)" in before
    assert "2-GPU replicas fit while the other pods hold < 7 x 1 (at most 6)" in before
    assert lines.index("Cautions:") > header + 3


def test_plan_cautions_about_the_shared_pool_assumption() -> None:
    text = _plan_text("staging")
    cautions = text[text.index("Cautions:") :]
    assert "other namespaces on this GPU pool request at most 2 GPUs" in cautions


def test_plan_exits_2_naming_the_model_that_may_stay_pending(tmp_path: Path) -> None:
    doc = yaml.safe_load((ROOT / "Pulumi.production.yaml").read_text())
    doc["config"]["vllm-platform:cluster"]["gpuPool"]["autoscaler"]["max"] = 5
    bad = tmp_path / "Pulumi.five.yaml"
    bad.write_text(yaml.safe_dump(doc))
    result = ops("plan", "--file", str(bad))
    assert result.returncode == 2
    assert "models[0].gpusPerReplica: a 2-GPU replica of llama-3-3-70b-instruct" in result.stdout
    assert "Traceback" not in result.stderr


def test_a_reader_that_stops_early_gets_no_traceback() -> None:
    """`ops plan | head -1`: the verdict line, then a closed pipe, is no error of ours."""
    result = subprocess.run(
        f"{sys.executable} -m ops plan --stack production | head -1",
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.startswith("2 cautions · Pulumi.production.yaml")
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr


def test_a_plan_cut_short_by_its_reader_does_not_exit_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`set -o pipefail; ops plan | head -1` on a stack with problems exited 0 whenever the
    closed pipe was met (the BrokenPipe swallowed the 2): a script reading the verdict and the
    status took it for a sound stack. Here stdout is a pipe whose reader is gone."""
    from ops.__main__ import main

    bad = tmp_path / "Pulumi.bad.yaml"
    doc = yaml.safe_load((ROOT / "Pulumi.production.yaml").read_text())
    for model in doc["config"]["vllm-platform:models"]:
        model["replicas"] = 0
    bad.write_text(yaml.safe_dump(doc))
    read_end, write_end = os.pipe()
    os.close(read_end)
    closed = open(write_end, "w", buffering=1, encoding="utf-8")  # noqa: SIM115
    monkeypatch.setattr(sys, "stdout", closed)
    try:
        code = main(["plan", "--file", str(bad)])
    finally:
        with contextlib.suppress(BrokenPipeError):
            closed.close()
    assert code == 141  # 128 + SIGPIPE, as a shell reports a writer its reader left
