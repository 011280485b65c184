"""The real round trip with the Pulumi CLI: file backend, up, up, rollback (skipped without it).

A throwaway project named like ours (so its ``vllm-platform:*`` keys are the project's) whose
program only exports its config; the real program needs a cloud. Config comes from the staging
stack file, so the restored config also passes today's validation.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import PROJECT
from components.planning.release import ROLLBACK_ENV
from ops.rollback import plan_rollback, validate_restored

pytestmark = [
    pytest.mark.cli,
    pytest.mark.skipif(shutil.which("pulumi") is None, reason="needs the pulumi CLI on PATH"),
]

from tests.support.stackfiles import ROOT  # noqa: E402

P = f"{PROJECT}:"

PROGRAM = f"""
import os
import pulumi

cfg = pulumi.Config()
pulumi.export("models", cfg.require_object("models"))
pulumi.export("gpuBudget", cfg.get_int("gpuBudget"))
pulumi.export("apiKey", cfg.require_secret("vllmApiKey"))
pulumi.export("rolledBackTo", os.environ.get({ROLLBACK_ENV!r}, ""))
"""


def _project(tmp_path: Path, program: str = PROGRAM) -> Path:
    """A throwaway Pulumi project running ``program`` with this test run's virtualenv."""
    work = tmp_path / "project"
    work.mkdir()
    venv = Path(sys.executable).resolve().parents[1]
    (work / "Pulumi.yaml").write_text(
        yaml.safe_dump(
            {
                "name": PROJECT,
                "runtime": {"name": "python", "options": {"virtualenv": str(venv)}},
            }
        )
    )
    (work / "__main__.py").write_text(program)
    return work


def local_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, passphrase: str, program: str = PROGRAM
) -> Path:
    """A file backend under ``tmp_path`` for the real CLI, and the project directory."""
    backend = tmp_path / "state"
    backend.mkdir()
    monkeypatch.setenv("PULUMI_BACKEND_URL", backend.as_uri())
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", passphrase)
    monkeypatch.setenv("PULUMI_SKIP_UPDATE_CHECK", "true")
    monkeypatch.delenv(ROLLBACK_ENV, raising=False)
    return _project(tmp_path, program)


def _config_json(models: list[dict[str, Any]], api_key: str, budget: int | None) -> str:
    staging = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())["config"]
    doc: dict[str, Any] = {}
    for key, raw in staging.items():
        if key == f"{P}gpuBudget":
            continue  # set (or not) by the caller
        value = models if key == f"{P}models" else raw
        if isinstance(value, (dict, list)):
            doc[key] = {"value": json.dumps(value), "objectValue": value, "secret": False}
        else:
            doc[key] = {"value": str(value), "secret": False}
    doc[f"{P}vllmApiKey"] = {"value": api_key, "secret": True}
    if budget is not None:
        doc[f"{P}gpuBudget"] = {"value": str(budget), "secret": False}
    return json.dumps(doc)


def test_up_up_rollback_restores_the_first_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pulumi import automation as auto

    from ops import automation

    work = local_backend(tmp_path, monkeypatch, "roundtrip-test")

    staging = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())["config"]
    first = staging[f"{P}models"]
    second = json.loads(json.dumps(first))
    second[0]["image"] = (
        "vllm/vllm-openai:v0.32.0@sha256:1111111111111111111111111111111111111111111111111111111111111111"
    )

    stack = auto.create_stack("roundtrip", work_dir=str(work))
    stack.set_all_config_json(_config_json(first, "key-one", None))
    stack.up(message="first")
    stack.set_all_config_json(_config_json(second, "key-two", 2))
    stack.up(message="second")

    selected = automation.open_stack("roundtrip", work_dir=work)
    updates, shown = automation.fetch_history(selected, page_size=1)  # paging, for real
    assert shown
    assert [u.version for u in updates] == [2, 1]
    plan = plan_rollback(updates, 1, automation.current_config(selected))
    assert validate_restored(plan) == []
    assert plan.to_remove == [f"{P}gpuBudget"]

    stack_file = work / "Pulumi.roundtrip.yaml"
    before = stack_file.read_bytes()
    automation.preview_and_apply(
        selected, plan, message="preview only", apply=False, work_dir=work, on_output=print
    )
    assert stack_file.read_bytes() == before

    automation.preview_and_apply(
        selected, plan, message="rollback to 1", apply=True, work_dir=work, on_output=print
    )
    outputs = selected.outputs()
    assert outputs["models"].value[0]["image"] == first[0]["image"]
    assert outputs["apiKey"].value == "key-one"
    assert outputs["gpuBudget"].value is None
    assert outputs["rolledBackTo"].value == "1"
    restored = yaml.safe_load(stack_file.read_text())["config"]
    assert isinstance(restored[f"{P}models"], list)  # an object again, not a JSON string
    newest = automation.fetch_history(selected)[0][0]
    assert newest.version == 3 and newest.message == "rollback to 1" and newest.succeeded
