"""`ops deploy --auto-rollback` with the real Pulumi CLI and a file backend (skipped without it).

A throwaway project named like ours: a dynamic resource stands in for the smoke test. It
records the first model's image and fails to update when the image is a broken one, after a
second resource (the "server") was already updated: a failed update that changed resources,
as a smoke test failing after the rollout is.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli_project import KEY_PREFIX, local_backend, staging_config, staging_config_json

pytestmark = [
    pytest.mark.cli,
    pytest.mark.skipif(shutil.which("pulumi") is None, reason="needs the pulumi CLI on PATH"),
]

P = KEY_PREFIX

PROGRAM = """
import pulumi
from pulumi.dynamic import CreateResult, ResourceProvider, UpdateResult, Resource


class Step(ResourceProvider):
    def create(self, props):
        if props["fail"] and "broken" in props["image"]:
            raise Exception("smoke test FAILED: HTTP 500 from every replica")
        return CreateResult(props["name"], dict(props))

    def diff(self, _id, olds, news):
        from pulumi.dynamic import DiffResult
        return DiffResult(changes=olds.get("image") != news.get("image"))

    def update(self, _id, _olds, news):
        if news["fail"] and "broken" in news["image"]:
            raise Exception("smoke test FAILED: HTTP 500 from every replica")
        return UpdateResult(dict(news))


cfg = pulumi.Config()
image = cfg.require_object("models")[0]["image"]
server = Resource(Step(), "server", {"name": "server", "image": image, "fail": False})
smoke = Resource(
    Step(), "smoke", {"name": "smoke", "image": image, "fail": True},
    opts=pulumi.ResourceOptions(depends_on=[server]),
)
pulumi.export("image", image)
"""


def test_a_failed_deploy_rolls_back_to_the_last_good_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pulumi import automation as auto

    from ops import automation
    from ops.deploy import deploy

    work = local_backend(tmp_path, monkeypatch, "deploy-roundtrip", PROGRAM)

    good = staging_config()[f"{P}models"]
    broken: list[dict[str, Any]] = json.loads(json.dumps(good))
    broken[0]["image"] = "vllm/vllm-openai:v0.11.1-broken"

    stack = auto.create_stack("deploy-roundtrip", work_dir=str(work))
    stack.set_all_config_json(staging_config_json(good, "key-one", None))
    stack.up(message="good")
    stack.set_all_config_json(staging_config_json(broken, "key-one", None))

    selected = automation.open_stack("deploy-roundtrip", work_dir=work)
    out: list[str] = []
    rc = deploy(
        selected,
        apply=True,
        auto_rollback=True,
        message="deploy broken",
        work_dir=work,
        on_output=out.append,
    )
    text = "\n".join(out)
    assert rc == 1, text
    assert "smoke test FAILED" in text and "Rollback: rolled back to version 1" in text
    updates, _ = automation.fetch_history(selected)
    assert [(u.version, u.result) for u in updates] == [
        (3, "succeeded"),
        (2, "failed"),
        (1, "succeeded"),
    ]
    assert selected.outputs()["image"].value == good[0]["image"]
