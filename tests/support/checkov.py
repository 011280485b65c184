"""One checkov run per test session over everything the checkov tests judge.

checkov takes ~1.5-2 s to load its checks on every start, so the tests do not run it once each:
the ``checkov_scan`` fixture (tests/unit/manifests/conftest.py) writes every committed stack's
objects (``python -m ops render``), the health reporter's objects and a known-bad pod into
subdirectories of one tree, runs checkov once over it with the repository's ``.checkov.yaml``,
and each test reads the failures under its own subdirectory. The tests reading it are all in
tests/unit/manifests/test_checkov.py: ``make test``'s ``--dist loadfile`` runs a file's tests
on one pytest-xdist worker, so checkov runs once per ``make test``. The known-bad pod's failures are
attributed to its subdirectory, which shows the per-subdirectory reading sees failures.

checkov cannot share the project's virtualenv (it pins ``packaging<24``; pulumi needs
``>=26``), so it lives in its own: ``$CHECKOV``, else ``.venv/checkov/bin/checkov``, else
``checkov`` on PATH, else the checkov tests build ``.venv/checkov`` through the Makefile's rule
(``make .venv/checkov/.installed``), so ``make test`` builds it only for the tests that use it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.stackfiles import ROOT

CONFIG = ROOT / ".checkov.yaml"
VENV_CHECKOV = ROOT / ".venv" / "checkov" / "bin" / "checkov"
MAKE_TARGET = ".venv/checkov/.installed"


def checkov_bin() -> str:
    for c in (os.environ.get("CHECKOV"), str(VENV_CHECKOV), shutil.which("checkov")):
        if c and Path(c).is_file():
            return c
    make = shutil.which("make")
    if make is None:
        pytest.fail(f"checkov is not installed and make is missing: run `make {MAKE_TARGET}`")
    proc = subprocess.run(
        [make, "-s", "-C", str(ROOT), MAKE_TARGET],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0 or not VENV_CHECKOV.is_file():
        pytest.fail(f"building .venv/checkov failed:\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}")
    return str(VENV_CHECKOV)


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


def render_stack(stack: str, out: Path) -> None:
    """``python -m ops render --stack STACK --out OUT``, as a user runs it."""
    proc = subprocess.run(
        [sys.executable, "-m", "ops", "render", "--stack", stack, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr


@dataclass(frozen=True)
class CheckovScan:
    """checkov's report over ``root``; ``failures(sub)`` are those of files under ``root/sub``."""

    root: Path
    report: dict[str, Any] = field(repr=False)

    def failures(self, sub: str) -> list[str]:
        prefix = f"/{sub.strip('/')}/"
        return [
            f"{f['check_id']} {f['check_name']}: {f['resource']} ({f['file_path']})"
            for f in self.report["results"]["failed_checks"]
            if f["file_path"].startswith(prefix)
        ]

    def yaml_files(self, sub: str = "") -> list[Path]:
        base = self.root / sub
        return sorted([*base.rglob("*.yaml"), *base.rglob("*.yml")])
