"""A throwaway Pulumi project for the CLI round trips (tests/cli): named like ours, so its
``vllm-platform:*`` keys are the project's, on a file backend under the test's tmp_path, with
config taken from the committed staging stack (so a restored config passes today's validation).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import PROJECT
from components.planning.release import ROLLBACK_ENV
from tests.support.stackfiles import ROOT

KEY_PREFIX = f"{PROJECT}:"


def local_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, passphrase: str, program: str
) -> Path:
    """A file backend under ``tmp_path`` for the real CLI, and a project directory running
    ``program`` with this test run's virtualenv."""
    backend = tmp_path / "state"
    backend.mkdir()
    monkeypatch.setenv("PULUMI_BACKEND_URL", backend.as_uri())
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", passphrase)
    monkeypatch.setenv("PULUMI_SKIP_UPDATE_CHECK", "true")
    monkeypatch.delenv(ROLLBACK_ENV, raising=False)
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


def staging_config() -> dict[str, Any]:
    """``Pulumi.staging.yaml``'s config, full keys."""
    config: dict[str, Any] = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())["config"]
    return config


def staging_config_json(models: list[dict[str, Any]], api_key: str, budget: int | None) -> str:
    """What `set_all_config_json` takes: the staging config with these models, this API key
    (a secret) and, unless ``None``, a ``gpuBudget``."""
    doc: dict[str, Any] = {}
    for key, raw in staging_config().items():
        if key == f"{KEY_PREFIX}gpuBudget":
            continue  # set (or not) by the caller
        value = models if key == f"{KEY_PREFIX}models" else raw
        if isinstance(value, (dict, list)):
            doc[key] = {"value": json.dumps(value), "objectValue": value, "secret": False}
        else:
            doc[key] = {"value": str(value), "secret": False}
    doc[f"{KEY_PREFIX}vllmApiKey"] = {"value": api_key, "secret": True}
    if budget is not None:
        doc[f"{KEY_PREFIX}gpuBudget"] = {"value": str(budget), "secret": False}
    return json.dumps(doc)
