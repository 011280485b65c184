"""`ops deploy`: its decisions from the history, and the whole flow against a fake CLI stack.

The fake keeps a history like the backend does: every `up` appends an update record with the
config it ran with, its result and its resource changes, and rollback writes config to the stack
file. The starting history is the production fixture up to version 6 (the last success).
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from ops import deploy as d
from ops.history import parse_history
from tests.unit.ops.test_automation import FIXTURES, cli_error, summary

P = "vllm-platform:"


def fixture(upto: int) -> list[dict[str, Any]]:
    items = json.loads((FIXTURES / "production-show-secrets.json").read_text())
    return [i for i in items if i["version"] <= upto]


class FakeCli:
    """A stack whose `up` fails as told and records what it ran, like `pulumi` would."""

    def __init__(
        self, work_dir: Path, *, fail_up: str | None = None, changes: dict[str, int] | None = None
    ) -> None:
        self.name = "production"
        self.records = fixture(6)
        self.config: dict[str, dict[str, Any]] = json.loads(
            json.dumps(fixture(7)[0]["config"])  # the new config being deployed (version 7's)
        )
        self.fail_up = fail_up  # stderr of a failing `up` (None: it succeeds)
        self.changes = changes or {"update": 2, "same": 52}
        self.fail_rollback = False
        self.calls: list[tuple[str, Any]] = []
        self.stack_file = work_dir / "Pulumi.production.yaml"
        self.stack_file.write_text("config: {}\n")

    # -- history and config, as the Automation API returns them
    def history(
        self, page_size: int | None = None, page: int | None = None, show_secrets: bool = True
    ) -> list[auto.UpdateSummary]:
        items = sorted(self.records, key=lambda r: -int(r["version"]))
        if page_size is not None and page is not None:
            items = items[(page - 1) * page_size : page * page_size]
        return [summary(i) for i in items]

    def get_all_config(self) -> MutableMapping[str, auto.ConfigValue]:
        return {
            k: auto.ConfigValue(value=v["value"], secret=v["secret"])
            for k, v in self.config.items()
        }

    def set_all_config_json(self, config_json: str) -> None:
        self.calls.append(("set_all_config_json", None))
        for key, value in json.loads(config_json).items():
            self.config[key] = {"value": value["value"], "secret": value.get("secret", False)}

    def remove_all_config(self, keys: list[str], *, path: bool = False) -> None:
        self.calls.append(("remove_all_config", keys))
        for key in keys:
            self.config.pop(key, None)

    # -- operations
    def preview(
        self, *, message: str | None = None, on_output: Any = None, policy_packs: Any = None
    ) -> auto.PreviewResult:
        self.calls.append(("preview", policy_packs))
        return auto.PreviewResult(stdout="", stderr="", change_summary={auto.OpType.UPDATE: 2})

    def _record(self, message: str | None, result: str, changes: dict[str, int]) -> None:
        version = max(int(r["version"]) for r in self.records) + 1
        self.records.append(
            {
                "version": version,
                "kind": "update",
                "startTime": "2025-06-10T10:00:00.000000Z",
                "endTime": "2025-06-10T10:30:00.000000Z",
                "message": message or "",
                "environment": {},
                "config": json.loads(json.dumps(self.config)),
                "result": result,
                "resourceChanges": changes,
            }
        )

    def up(
        self, *, message: str | None = None, on_output: Any = None, policy_packs: Any = None
    ) -> auto.UpResult:
        rolling_back = message is not None and message.startswith("rollback")
        self.calls.append(("rollback-up" if rolling_back else "up", policy_packs))
        if rolling_back and self.fail_rollback:
            self._record(message, "failed", {"update": 1})
            raise cli_error("error: the rollback timed out too")
        if self.fail_up and not rolling_back:
            self._record(message, "failed", self.changes)
            raise cli_error(self.fail_up)
        self._record(message, "succeeded", {"update": 2})
        return auto.UpResult(stdout="", stderr="", summary=summary(self.records[-1]), outputs={})

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]


SMOKE_FAILED = (
    "error: update failed\n"
    "  kubernetes:batch/v1:Job (llama-3-1-8b-instruct-smoke-1a2b3c4d): "
    "smoke test FAILED: HTTP 500"
)


def run(cli: FakeCli, tmp_path: Path, **kw: Any) -> tuple[int, str]:
    out: list[str] = []
    kw.setdefault("apply", True)
    kw.setdefault("auto_rollback", True)
    rc = d.deploy(
        cli, message="deploy", policy_packs=["policy"], work_dir=tmp_path,
        on_output=out.append, **kw,
    )  # fmt: skip
    return rc, "\n".join(out)


# ----------------------------------------------------------------------------- decisions


def updates(upto: int) -> list[Any]:
    return parse_history(fixture(upto))


def test_the_target_is_the_last_success_before_the_deploy_not_the_newest_record() -> None:
    decision = d.decide_after_failure("production", updates(6), updates(7), auto_rollback=True)
    assert decision.rollback and decision.target is not None
    assert decision.target.version == 6


def test_a_failure_that_changed_nothing_is_not_rolled_back() -> None:
    after = parse_history([*fixture(6), fixture(7)[0] | {"resourceChanges": {"same": 54}}])
    decision = d.decide_after_failure("production", updates(6), after, auto_rollback=True)
    assert not decision.rollback
    assert "changed no resource" in decision.reason


def test_a_first_deploy_has_nothing_to_roll_back_to() -> None:
    first_failed = parse_history([fixture(7)[0] | {"version": 1}])
    decision = d.decide_after_failure("production", [], first_failed, auto_rollback=True)
    assert not decision.rollback and decision.target is None


def test_without_auto_rollback_it_names_the_command_to_run() -> None:
    decision = d.decide_after_failure("production", updates(6), updates(7), auto_rollback=False)
    assert not decision.rollback
    assert "python -m ops rollback --stack production --to 6 --yes" in decision.reason


def test_unknown_resource_changes_count_as_changed() -> None:
    assert d.applied_anything(None)
    [unknown] = parse_history([fixture(7)[0] | {"resourceChanges": None}])
    assert d.applied_anything(unknown)


# --------------------------------------------------------------------------------- flow


def test_a_successful_deploy_previews_then_ups_with_the_policy_pack(tmp_path: Path) -> None:
    cli = FakeCli(tmp_path)
    rc, out = run(cli, tmp_path)
    assert rc == 0
    assert cli.calls == [("preview", ["policy"]), ("up", ["policy"])]
    assert "Deployed production" in out


def test_without_yes_it_only_previews(tmp_path: Path) -> None:
    cli = FakeCli(tmp_path, fail_up=SMOKE_FAILED)
    rc, out = run(cli, tmp_path, apply=False)
    assert rc == 0 and cli.names() == ["preview"]
    assert "Nothing applied" in out


def test_a_failed_smoke_test_rolls_back_to_the_last_good_version_and_exits_1(
    tmp_path: Path,
) -> None:
    cli = FakeCli(tmp_path, fail_up=SMOKE_FAILED)
    rc, out = run(cli, tmp_path)
    assert rc == 1
    assert cli.names() == [
        "preview", "up", "set_all_config_json", "preview", "rollback-up",
    ]  # fmt: skip
    # The config now is version 6's again (version 7 changed the models).
    models = json.loads(cli.config[f"{P}models"]["value"])
    assert models == json.loads(fixture(6)[0]["config"][f"{P}models"]["value"])
    newest = cli.records[-1]
    assert newest["result"] == "succeeded" and newest["message"].startswith("rollback")
    # Both are reported: the failure with its cause, and the rollback.
    assert "deploy of production FAILED" in out and "smoke test FAILED: HTTP 500" in out
    assert "Rollback: rolled back to version 6" in out


def test_a_failed_rollback_is_reported_with_the_failure(tmp_path: Path) -> None:
    cli = FakeCli(tmp_path, fail_up=SMOKE_FAILED)
    cli.fail_rollback = True
    rc, out = run(cli, tmp_path)
    assert rc == 1
    assert "smoke test FAILED" in out
    assert "rollback to version 6 FAILED as well" in out and "timed out too" in out


def test_no_auto_rollback_reports_the_failure_and_leaves_the_stack(tmp_path: Path) -> None:
    cli = FakeCli(tmp_path, fail_up=SMOKE_FAILED)
    rc, out = run(cli, tmp_path, auto_rollback=False)
    assert rc == 1 and cli.names() == ["preview", "up"]
    assert "--to 6 --yes" in out


def test_a_code_only_failure_is_not_rolled_back_by_config(tmp_path: Path) -> None:
    cli = FakeCli(tmp_path, fail_up=SMOKE_FAILED)
    cli.config = json.loads(json.dumps(fixture(6)[0]["config"]))  # same config as version 6
    rc, out = run(cli, tmp_path)
    assert rc == 1
    assert "rollback-up" not in cli.names()
    assert "the failing change is in the code" in out


def test_a_failed_preview_applies_nothing(tmp_path: Path) -> None:
    class PolicyViolation(FakeCli):
        def preview(self, **kw: Any) -> auto.PreviewResult:
            raise cli_error("error: preview failed\n  mandatory policy violation: pinned-images")

    cli = PolicyViolation(tmp_path)
    rc, out = run(cli, tmp_path)
    assert rc == 1 and cli.names() == []
    assert "pinned-images" in out and "Nothing was applied" in out


@pytest.mark.parametrize("argv", [["deploy"], ["deploy", "--yes"]])
def test_the_command_requires_a_stack(argv: list[str]) -> None:
    from ops.__main__ import main

    with pytest.raises(SystemExit):
        main(argv)
