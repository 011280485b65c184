"""`ops rollback` puts the stack file back as it was before the command touched Pulumi.

`pulumi stack history --show-secrets` loads the stack's secrets manager and, when the stack
file lacks its settings (the manager falls back to the one in the state), saves the stack file
(pulumi/pulumi ``pkg/cmd/pulumi/stack/stack_history.go:95-110``,
``pkg/cmd/pulumi/stack/secrets.go:226-320``). The snapshot a plan-only run restores must be
taken before that, or the run leaves the CLI's rewrite behind.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from ops import automation, rollback_command
from tests.unit.ops.test_automation import FakeStack


class SavingHistoryStack(FakeStack):
    """Like the CLI: reading the history with secrets writes the secrets settings."""

    def history(self, *args: Any, **kwargs: Any) -> list[auto.UpdateSummary]:
        if kwargs.get("show_secrets", True) and "encryptionsalt" not in self.stack_file.read_text():
            with self.stack_file.open("a") as f:
                f.write("encryptionsalt: v1:c2FsdA==:v1:AAAA:BBBB\n")
        return super().history(*args, **kwargs)


def _args(**over: Any) -> argparse.Namespace:
    values = {"stack": "production", "to": 5, "yes": False, "history_file": None}
    values.update(over)
    values["restore_secret"] = values.get("restore_secret") or []
    return argparse.Namespace(**values)


def test_a_plan_only_rollback_leaves_the_stack_file_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = SavingHistoryStack(tmp_path)
    before = stack.stack_file.read_bytes()
    monkeypatch.setattr(rollback_command, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(automation, "open_stack", lambda *a, **k: stack)
    assert rollback_command.main(_args()) == 0
    assert "preview" in stack.names()
    assert stack.stack_file.read_bytes() == before
    assert "Nothing applied" in capsys.readouterr().out
