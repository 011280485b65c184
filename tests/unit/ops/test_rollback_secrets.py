"""`ops rollback` keeps today's secrets; a secret comes back from the history only when asked.

A rollback restores a deployment, not credentials: an owner password rotated since the target
version would fail to authenticate, a writer password would be set back by ``ALTER ROLE``
(terraform-provider-postgresql ``resource_postgresql_role.go:781-812``), and a revoked
``hfToken`` would be deployed again. ``--restore-secret KEY`` restores one, and the plan says so.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ops.__main__ import main as ops_main
from ops.history import ConfigEntry, Update, parse_history
from ops.rollback import RollbackError, format_plan, plan_rollback, validate_restored
from tests.fixtures.history import HIDDEN, SECRET_VALUES, SHOWN

P = "vllm-platform:"
ROTATED = {
    "registryPassword": "owner-pw-ROTATED-1",
    "registryWriterPassword": "writer-pw-ROTATED-2",
    "vllmApiKey": "sk-prod-ROTATED-4444",
}


def _history(path: Path = SHOWN) -> list[Update]:
    return parse_history(json.loads(path.read_text()))


def _current(
    secrets: dict[str, str] | None = None, *, drop: tuple[str, ...] = ()
) -> dict[str, ConfigEntry]:
    """The stack now: version 8's config with rotated secrets (and some removed)."""
    config = dict(next(u for u in _history() if u.version == 8).config)
    for key, value in (secrets or {}).items():
        config[f"{P}{key}"] = ConfigEntry(secret=True, text=value)
    for key in drop:
        del config[f"{P}{key}"]
    return config


def test_owner_and_writer_passwords_rotated_since_the_target_are_kept() -> None:
    plan = plan_rollback(_history(), 5, _current(ROTATED))
    for key, value in ROTATED.items():
        assert f"{P}{key}" not in plan.to_set
        assert plan.restored[f"{P}{key}"].semantic() == value
    assert {f"{P}{k}" for k in ROTATED} <= set(plan.kept_secrets)
    assert f"{P}models" in plan.to_set  # the deployment itself is restored
    text = format_plan(plan, "production", "stack production", [])
    assert "Secrets kept at their current value" in text
    assert "--restore-secret registryWriterPassword" in text
    assert not any(s in text for s in (*SECRET_VALUES, *ROTATED.values()))


def test_a_revoked_hf_token_removed_since_does_not_come_back() -> None:
    plan = plan_rollback(_history(), 5, _current(drop=("hfToken",)))
    assert f"{P}hfToken" not in plan.to_set
    assert f"{P}hfToken" not in plan.restored
    assert plan.missing_secrets == [f"{P}hfToken"]
    text = format_plan(plan, "production", "x", [])
    assert "pulumi config set --stack production --secret hfToken" in text
    assert "--restore-secret hfToken" in text


def test_a_secret_added_since_the_target_is_kept_not_removed() -> None:
    plan = plan_rollback(_history(), 1, _current())
    assert f"{P}hfToken" not in plan.to_remove
    assert plan.restored[f"{P}hfToken"].semantic() == "hf_PRODTOKEN0000000000000000"


def test_restoring_a_secret_is_explicit_and_shown_in_the_plan() -> None:
    plan = plan_rollback(
        _history(), 5, _current(ROTATED), restore_secrets=("registryWriterPassword",)
    )
    assert plan.to_set[f"{P}registryWriterPassword"].semantic() == "writer-pw-Kd3#pL"
    assert f"{P}registryPassword" not in plan.to_set
    assert plan.restored_secrets == [f"{P}registryWriterPassword"]
    text = format_plan(plan, "production", "x", [])
    assert (
        f"~ {P}registryWriterPassword = [secret]   (restored from the history: "
        "--restore-secret)" in text
    )
    assert validate_restored(plan) == []


def test_a_revoked_hf_token_is_restored_only_when_asked() -> None:
    plan = plan_rollback(_history(), 5, _current(drop=("hfToken",)), restore_secrets=("hfToken",))
    assert plan.to_set[f"{P}hfToken"].semantic() == "hf_PRODTOKEN0000000000000000"
    assert plan.missing_secrets == []


@pytest.mark.parametrize(
    ("path", "key", "message"),
    [
        (HIDDEN, "vllmApiKey", "--restore-secret vllmApiKey: the history does not carry"),
        (SHOWN, "gpuBudget", "--restore-secret gpuBudget: not a secret"),
        (SHOWN, "noSuchKey", "--restore-secret noSuchKey: not a secret"),
    ],
)
def test_a_secret_that_cannot_be_restored_is_refused_by_name(
    path: Path, key: str, message: str
) -> None:
    with pytest.raises(RollbackError, match=message):
        plan_rollback(_history(path), 5, _current(ROTATED), restore_secrets=(key,))


def test_the_command_keeps_secrets_unless_told(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["rollback", "--stack", "production", "--to", "5", "--history-file", str(SHOWN)]
    assert ops_main(base) == 0
    kept = capsys.readouterr().out
    # The committed stack file holds no secrets: none is set back from the history.
    assert "(restored from the history: --restore-secret)" not in kept
    assert "pulumi config set --stack production --secret vllmApiKey" in kept
    assert "--restore-secret vllmApiKey" in kept
    assert ops_main([*base, "--restore-secret", "vllmApiKey"]) == 0
    restored = capsys.readouterr()
    assert f"{P}vllmApiKey = [secret]   (restored from the history: --restore-secret)" in (
        restored.out
    )
    assert not any(s in restored.out + restored.err for s in SECRET_VALUES)
