"""``committed_run``: the cached program run is private to each caller, follows the environment."""

from __future__ import annotations

import pytest

from components.planning.release import ROLLBACK_ENV
from tests.support.harness import committed_run, run_program

pytestmark = pytest.mark.program

ENTRY = "pulumi-python:dynamic/registry:RegistryEntry"


def _change_kinds(stack: str) -> set[str]:
    return {r.inputs["change_kind"] for r in committed_run(stack).by_type(ENTRY)}


def test_a_caller_mutating_its_run_does_not_change_the_next_callers() -> None:
    first = committed_run("staging")
    fresh = run_program("staging")
    first.resources.clear()
    first.outputs.clear()
    again = committed_run("staging")
    # (registration order varies from run to run: the program registers asynchronously)
    assert sorted(r.urn for r in again.resources) == sorted(r.urn for r in fresh.resources)
    assert again.outputs == fresh.outputs


def test_an_environment_change_gets_a_run_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "rollback" not in _change_kinds("staging")
    monkeypatch.setenv(ROLLBACK_ENV, "7")
    assert _change_kinds("staging") == {"rollback"}
    monkeypatch.delenv(ROLLBACK_ENV)
    assert "rollback" not in _change_kinds("staging")
