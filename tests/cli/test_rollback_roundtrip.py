"""The real round trip with the Pulumi CLI: file backend, up, up, rollback (skipped without it).

The throwaway project (tests/support/cli_project.py) runs a program that only exports its
config; the real program needs a cloud.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from components.planning.release import ROLLBACK_ENV
from ops.rollback import plan_rollback, validate_restored
from tests.support.cli_project import KEY_PREFIX, local_backend, staging_config, staging_config_json

pytestmark = [
    pytest.mark.cli,
    pytest.mark.skipif(shutil.which("pulumi") is None, reason="needs the pulumi CLI on PATH"),
]

P = KEY_PREFIX

PROGRAM = f"""
import os
import pulumi

cfg = pulumi.Config()
pulumi.export("models", cfg.require_object("models"))
pulumi.export("gpuBudget", cfg.get_int("gpuBudget"))
pulumi.export("apiKey", cfg.require_secret("vllmApiKey"))
pulumi.export("rolledBackTo", os.environ.get({ROLLBACK_ENV!r}, ""))
"""


def test_up_up_rollback_restores_the_first_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pulumi import automation as auto

    from ops import automation

    work = local_backend(tmp_path, monkeypatch, "roundtrip-test", PROGRAM)

    first = staging_config()[f"{P}models"]
    second = json.loads(json.dumps(first))
    second[0]["image"] = (
        "vllm/vllm-openai:v0.32.0@sha256:1111111111111111111111111111111111111111111111111111111111111111"
    )

    stack = auto.create_stack("roundtrip", work_dir=str(work))
    stack.set_all_config_json(staging_config_json(first, "key-one", None))
    stack.up(message="first")
    stack.set_all_config_json(staging_config_json(second, "key-two", 2))
    stack.up(message="second")

    selected = automation.open_stack("roundtrip", work_dir=work)
    updates, shown = automation.fetch_history(selected, page_size=1)  # paging, for real
    assert shown
    assert [u.version for u in updates] == [2, 1]
    current = automation.current_config(selected)
    assert f"{P}vllmApiKey" not in plan_rollback(updates, 1, current).to_set  # kept by default
    plan = plan_rollback(updates, 1, current, restore_secrets=("vllmApiKey",))
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
