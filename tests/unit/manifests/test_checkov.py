"""checkov's Kubernetes checks over every committed stack's rendered objects: zero failures.

``python -m ops render --stack NAME --out DIR`` writes the objects (one per file); checkov runs
over them with the repository's ``.checkov.yaml`` (framework, offline ``skip-download``, and
the short, justified ``skip-check`` list).

checkov cannot share the project's virtualenv (it pins ``packaging<24``; pulumi needs
``>=26``), so it lives in its own: ``$CHECKOV``, else ``.venv/checkov/bin/checkov``, else
``checkov`` on PATH.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.stackfiles import ROOT, STACKS

CONFIG = ROOT / ".checkov.yaml"
MAX_SKIPS = 5
INSTALL = (
    "python3 -m venv .venv/checkov && "
    ".venv/checkov/bin/pip install -r requirements-checkov.txt  # checkov==3.3.30"
)


def checkov_bin() -> str:
    candidates = [os.environ.get("CHECKOV"), str(ROOT / ".venv" / "checkov" / "bin" / "checkov")]
    for c in candidates:
        if c and Path(c).is_file():
            return c
    found = shutil.which("checkov")
    if found is None:
        pytest.fail(f"checkov is not installed; install it in its own virtualenv: {INSTALL}")
    return found


def run_checkov(directory: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [checkov_bin(), "-d", str(directory), "--config-file", str(CONFIG), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    if isinstance(report, list):  # one report per framework
        [report] = [r for r in report if r.get("check_type") == "kubernetes"]
    assert isinstance(report, dict)
    return report


def failures(report: dict[str, Any]) -> list[str]:
    return [
        f"{f['check_id']} {f['check_name']}: {f['resource']} ({f['file_path']})"
        for f in report["results"]["failed_checks"]
    ]


def render(stack: str, out: Path) -> None:
    try:
        importlib.import_module("ops.render")
    except ModuleNotFoundError as exc:
        if exc.name != "ops.render":
            raise
        pytest.skip("python -m ops render does not exist yet (ops/render.py)")
    proc = subprocess.run(
        [sys.executable, "-m", "ops", "render", "--stack", stack, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("stack", STACKS)
def test_rendered_stack_passes_every_checkov_kubernetes_check(stack: str, tmp_path: Path) -> None:
    out = tmp_path / stack
    render(stack, out)
    assert any(out.rglob("*.yaml")) or any(out.rglob("*.yml")), "ops render wrote nothing"
    report = run_checkov(out)
    assert report["summary"]["resource_count"] > 0
    assert report["summary"]["parsing_errors"] == 0
    assert failures(report) == []


def test_checkov_reports_a_failing_object(tmp_path: Path) -> None:
    """The harness sees failures: a privileged, root, unprobed pod fails checks."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bad", "namespace": "default"},
        "spec": {
            "containers": [
                {
                    "name": "bad",
                    "image": "busybox:latest",
                    "securityContext": {"privileged": True, "runAsUser": 0},
                }
            ]
        },
    }
    (tmp_path / "pod.yaml").write_text(yaml.safe_dump(pod))
    ids = {f.split()[0] for f in failures(run_checkov(tmp_path))}
    assert {"CKV_K8S_16", "CKV_K8S_8", "CKV_K8S_9"} <= ids  # privileged, liveness, readiness
    assert not ids & set(skip_checks())  # skipped checks really are skipped


def skip_checks() -> list[str]:
    config = yaml.safe_load(CONFIG.read_text())
    return list(config.get("skip-check", []))


def test_the_checkov_config_is_offline_kubernetes_and_every_skip_has_a_reason() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    assert config["framework"] == ["kubernetes"]
    assert config["skip-download"] is True
    skips = skip_checks()
    assert len(skips) <= MAX_SKIPS, "keep the skip list short: fix the builders instead"
    assert len(set(skips)) == len(skips)
    lines = CONFIG.read_text().splitlines()
    for check in skips:
        assert re.fullmatch(r"CKV_K8S_\d+", check)
        i = lines.index(f"  - {check}")
        assert lines[i - 1].strip().startswith("#"), f"{check} needs a reason comment above it"
