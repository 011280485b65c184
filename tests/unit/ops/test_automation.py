"""ops/automation.py against a fake ``pulumi.automation.Stack``: paging, secrets, apply, restore."""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult

from components.planning.release import ROLLBACK_ENV
from ops import automation
from ops.common import CommandError
from ops.history import ConfigEntry
from ops.rollback import plan_rollback
from tests.support.stackfiles import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "history"
P = "vllm-platform:"
_SDK_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"  # what Stack.history parses startTime/endTime with


def summary(raw: dict[str, Any]) -> auto.UpdateSummary:
    """An UpdateSummary built exactly as ``Stack.history`` builds it from the CLI's JSON."""
    return auto.UpdateSummary(
        kind=raw["kind"],
        start_time=datetime.strptime(raw["startTime"], _SDK_TIME),
        message=raw["message"],
        environment=raw["environment"],
        config=raw["config"],
        result=raw["result"],
        end_time=datetime.strptime(raw["endTime"], _SDK_TIME) if "endTime" in raw else None,
        version=raw.get("version"),
        resource_changes=raw.get("resourceChanges"),
    )


def cli_error(stderr: str) -> auto.CommandError:
    return auto.CommandError(CommandResult(stdout="", stderr=stderr, code=255))


class FakeStack:
    """Records what the layer asks of Pulumi; writes config to a stack file like the CLI."""

    def __init__(self, work_dir: Path, *, secrets_readable: bool = True) -> None:
        self.name = "production"
        self.work_dir = work_dir
        self.secrets_readable = secrets_readable
        self.calls: list[tuple[str, Any]] = []
        self.fail_up = False
        self.env_during_up: str | None = None
        shown = json.loads((FIXTURES / "production-show-secrets.json").read_text())
        hidden = json.loads((FIXTURES / "production.json").read_text())
        self._history = {True: shown, False: hidden}
        self.stack_file = work_dir / "Pulumi.production.yaml"
        self.stack_file.write_text("config:\n  vllm-platform:environment: production\n")

    def history(
        self, page_size: int | None = None, page: int | None = None, show_secrets: bool = True
    ) -> list[auto.UpdateSummary]:
        self.calls.append(("history", (page_size, page, show_secrets)))
        if show_secrets and not self.secrets_readable:
            raise cli_error("error: decrypting secrets: passphrase must be set")
        items = self._history[show_secrets]
        if page_size is not None and page is not None:
            items = items[(page - 1) * page_size : page * page_size]
        return [summary(i) for i in items]

    def get_all_config(self) -> MutableMapping[str, auto.ConfigValue]:
        newest = self._history[True][0]["config"]
        return {
            k: auto.ConfigValue(value=v["value"], secret=v["secret"]) for k, v in newest.items()
        }

    def set_all_config_json(self, config_json: str) -> None:
        self.calls.append(("set_all_config_json", json.loads(config_json)))
        with self.stack_file.open("a") as f:
            f.write(f"# set {sorted(json.loads(config_json))}\n")

    def remove_all_config(self, keys: list[str], *, path: bool = False) -> None:
        self.calls.append(("remove_all_config", keys))
        with self.stack_file.open("a") as f:
            f.write(f"# removed {keys}\n")

    def preview(self, *, message: str | None = None, on_output: Any = None) -> Any:
        self.calls.append(("preview", message))
        assert ROLLBACK_ENV not in os.environ
        return auto.PreviewResult(
            stdout="", stderr="", change_summary={auto.OpType.UPDATE: 2, auto.OpType.SAME: 50}
        )

    def up(self, *, message: str | None = None, on_output: Any = None) -> Any:
        self.calls.append(("up", message))
        self.env_during_up = os.environ.get(ROLLBACK_ENV)
        if self.fail_up:
            raise cli_error("error: update failed\n  kubernetes:apps/v1:StatefulSet timed out")
        return auto.UpResult(
            stdout="",
            stderr="",
            summary=summary(self._history[True][1] | {"resourceChanges": {"update": 2}}),
            outputs={},
        )

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def test_fake_matches_the_part_of_the_real_stack_the_layer_uses(tmp_path: Path) -> None:
    stack: automation.StackApi = FakeStack(tmp_path)  # mypy checks the fake against the protocol
    assert stack.name == "production"
    for method in ("history", "get_all_config", "set_all_config_json", "remove_all_config"):
        assert callable(getattr(auto.Stack, method))


def test_reads_every_page_of_the_history_not_just_the_first(tmp_path: Path) -> None:
    stack = FakeStack(tmp_path)
    updates, shown = automation.fetch_history(stack, page_size=3)
    assert [u.version for u in updates] == [8, 7, 6, 5, 4, 3, 2, 1]
    assert shown
    assert [c[1] for c in stack.calls] == [(3, 1, True), (3, 2, True), (3, 3, True)]


def test_object_values_from_the_sdk_are_objects_again(tmp_path: Path) -> None:
    updates, _ = automation.fetch_history(FakeStack(tmp_path))
    v5 = next(u for u in updates if u.version == 5)
    assert v5.models() is not None and len(v5.models() or []) == 3
    assert v5.config[f"{P}vllmApiKey"].semantic() == "sk-prod-SECONDKEY-2222"
    assert v5.start is not None and v5.start.isoformat() == "2025-06-03T10:05:44+00:00"


def test_without_the_secrets_provider_it_reads_again_without_secrets(tmp_path: Path) -> None:
    stack = FakeStack(tmp_path, secrets_readable=False)
    updates, shown = automation.fetch_history(stack)
    assert not shown
    key = next(u for u in updates if u.version == 5).config[f"{P}vllmApiKey"]
    # The SDK's "[secret]" placeholder is never taken for a value.
    assert key.secret and not key.known


def test_a_history_that_cannot_be_read_at_all_is_a_command_error(tmp_path: Path) -> None:
    class Broken(FakeStack):
        def history(self, *a: Any, **k: Any) -> list[auto.UpdateSummary]:
            raise cli_error("error: [403] Forbidden: not a member of org example")

    with pytest.raises(CommandError, match=r"reading the history of stack production failed"):
        automation.fetch_history(Broken(tmp_path))


def test_current_config_keeps_secret_flags(tmp_path: Path) -> None:
    current = automation.current_config(FakeStack(tmp_path))
    assert current[f"{P}vllmApiKey"] == ConfigEntry(secret=True, text="sk-prod-THIRDKEY-3333")


def plan_for(stack: FakeStack, version: int = 5) -> Any:
    updates, _ = automation.fetch_history(stack)
    return plan_rollback(updates, version, automation.current_config(stack))


def test_preview_only_writes_config_previews_and_puts_the_stack_file_back(
    tmp_path: Path,
) -> None:
    stack = FakeStack(tmp_path)
    before = stack.stack_file.read_bytes()
    plan = plan_for(stack)
    out: list[str] = []
    rc = automation.preview_and_apply(
        stack, plan, message="m", apply=False, work_dir=tmp_path, on_output=out.append
    )
    assert rc == 0
    assert stack.names()[-3:] == ["set_all_config_json", "remove_all_config", "preview"]
    assert "up" not in stack.names()
    set_doc = next(c[1] for c in stack.calls if c[0] == "set_all_config_json")
    assert set_doc[f"{P}models"]["objectValue"][1]["image"] == "vllm/vllm-openai:v0.32.0"
    removed = next(c[1] for c in stack.calls if c[0] == "remove_all_config")
    assert removed == [f"{P}gpuBudget", f"{P}otherNamespacesGpuBudget", f"{P}protect"]
    assert stack.stack_file.read_bytes() == before
    assert any("Preview: same 50, update 2" in line for line in out)


def test_apply_runs_up_with_the_rollback_env_and_keeps_the_restored_config(
    tmp_path: Path,
) -> None:
    stack = FakeStack(tmp_path)
    before = stack.stack_file.read_bytes()
    out: list[str] = []
    rc = automation.preview_and_apply(
        stack, plan_for(stack), message="rollback", apply=True, work_dir=tmp_path,
        on_output=out.append,
    )  # fmt: skip
    assert rc == 0
    assert stack.names()[-2:] == ["preview", "up"]
    assert ("up", "rollback") in stack.calls
    assert stack.env_during_up == "5"
    assert ROLLBACK_ENV not in os.environ
    assert stack.stack_file.read_bytes() != before
    assert any("Commit Pulumi.production.yaml" in line for line in out)


def test_the_registry_switch_runs_after_the_preview_and_before_the_up(tmp_path: Path) -> None:
    # keepPrevious (ops/rollback_switch.py): never before a preview that could still fail.
    stack = FakeStack(tmp_path)
    switched = lambda: stack.calls.append(("switch", None))  # noqa: E731
    automation.preview_and_apply(
        stack, plan_for(stack), message="m", apply=True, work_dir=tmp_path,
        on_output=lambda _: None, before_up=switched,
    )  # fmt: skip
    assert stack.names()[-3:] == ["preview", "switch", "up"]
    calls = len(stack.calls)
    automation.preview_and_apply(
        stack, plan_for(stack), message="m", apply=False, work_dir=tmp_path,
        on_output=lambda _: None, before_up=switched,
    )  # fmt: skip
    assert "switch" not in stack.names()[calls:] and stack.names()[-1] == "preview"


def test_a_failed_up_puts_the_stack_file_back_and_says_how_to_retry(tmp_path: Path) -> None:
    stack = FakeStack(tmp_path)
    stack.fail_up = True
    before = stack.stack_file.read_bytes()
    with pytest.raises(CommandError, match="rerun the rollback to retry") as err:
        automation.preview_and_apply(
            stack, plan_for(stack), message="m", apply=True, work_dir=tmp_path,
            on_output=lambda _: None,
        )  # fmt: skip
    assert "StatefulSet timed out" in str(err.value)
    assert stack.stack_file.read_bytes() == before
    assert ROLLBACK_ENV not in os.environ


def test_missing_cli_is_a_clear_error_offering_only_what_the_command_has(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """history and rollback can read a --history-file; deploy has no such option."""
    from ops.rollback_command import HISTORY_FILE_HINT

    monkeypatch.setattr("shutil.which", lambda _: None)
    with pytest.raises(CommandError, match="Pulumi CLI is required") as err:
        automation.open_stack("production", offline=HISTORY_FILE_HINT)
    assert "--history-file" in str(err.value)
    with pytest.raises(CommandError, match="Pulumi CLI is required") as err:
        automation.open_stack("production")  # as ops deploy calls it
    assert "--history-file" not in str(err.value)
