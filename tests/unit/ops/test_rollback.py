"""ops/rollback.py: choosing the target, the config to restore, masking, validation, the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ops.history import ConfigEntry, Update, parse_history
from ops.rollback import (
    AlreadyCurrentError,
    RollbackError,
    choose_target,
    config_from_stack_file,
    format_plan,
    git_warnings,
    plan_rollback,
    rollback_message,
    validate_restored,
)
from tests.fixtures.history import HIDDEN, SECRET_VALUES, SHOWN
from tests.support.ops_cli import ops
from tests.support.stackfiles import ROOT

P = "vllm-platform:"


def load(path: Path) -> list[Update]:
    return parse_history(json.loads(path.read_text()))


def config_of(version: int) -> dict[str, ConfigEntry]:
    """The stack's config as `pulumi config --show-secrets` gives it after ``version`` ran."""
    return dict(next(u for u in load(SHOWN) if u.version == version).config)


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (42, r"version 42 is not in the stack's history \(versions 1..8\); succeeded updates: 6"),
        (7, r"version 7 did not succeed \(result: failed\)"),
        (8, "version 8 is still in progress"),
        (4, "version 4 is a refresh operation, not an update"),
    ],
)
def test_refuses_a_version_that_is_missing_failed_unfinished_or_not_an_update(
    version: int, message: str
) -> None:
    with pytest.raises(RollbackError, match=message):
        choose_target(load(HIDDEN), version)


def test_refuses_the_version_that_is_the_current_configuration() -> None:
    with pytest.raises(AlreadyCurrentError, match="version 6 is the current configuration"):
        plan_rollback(load(SHOWN), 6, config_of(6))


def test_restores_values_removes_keys_added_since_and_keeps_todays_secrets() -> None:
    plan = plan_rollback(load(SHOWN), 5, config_of(8))
    assert sorted(plan.to_set) == [f"{P}models"]
    assert plan.to_remove == [f"{P}gpuBudget", f"{P}otherNamespacesGpuBudget", f"{P}protect"]
    assert plan.restored[f"{P}vllmApiKey"].semantic() == "sk-prod-THIRDKEY-3333"
    assert plan.restorable_secrets == [f"{P}vllmApiKey"]  # the history's differs
    models = plan.to_set[f"{P}models"].semantic()
    assert [m["image"] for m in models] == ["vllm/vllm-openai:v0.32.0"] * 3
    assert models[1]["replicas"] == 2
    assert f"{P}vllmApiKey" in plan.kept_secrets and plan.missing_secrets == []
    assert plan.other_namespaces == []
    assert validate_restored(plan) == []


def test_keeps_current_secrets_when_the_history_does_not_carry_them() -> None:
    plan = plan_rollback(load(HIDDEN), 5, config_of(8))
    assert sorted(plan.to_set) == [f"{P}models"]
    assert plan.kept_secrets == [
        f"{P}hfToken",
        f"{P}registryPassword",
        f"{P}registryReaderPassword",
        f"{P}registryWriterPassword",
        f"{P}vllmApiKey",
    ]
    assert plan.restored[f"{P}vllmApiKey"].semantic() == "sk-prod-THIRDKEY-3333"
    assert "Secrets kept at their current value" in format_plan(plan, "production", "x", [])


def test_a_secret_that_cannot_be_decrypted_is_kept_not_restored_as_the_error_text() -> None:
    plan = plan_rollback(load(SHOWN), 3, config_of(8))
    assert f"{P}registryReaderPassword" in plan.kept_secrets
    assert f"{P}registryReaderPassword" not in plan.to_set
    assert "ERROR_UNABLE_TO_DECRYPT" not in plan.config_json()


def test_a_secret_without_value_in_history_and_none_now_is_reported_missing() -> None:
    current = config_of(8)
    del current[f"{P}hfToken"]
    plan = plan_rollback(load(HIDDEN), 5, current)
    assert plan.missing_secrets == [f"{P}hfToken"]
    text = format_plan(plan, "production", "x", [])
    assert "pulumi config set --stack production --secret hfToken" in text
    assert "the history carries no other value" in text
    # With secrets shown it is set again only when asked (test_rollback_secrets.py).
    plan = plan_rollback(load(SHOWN), 5, current, restore_secrets=("hfToken",))
    assert f"{P}hfToken" in plan.to_set and plan.missing_secrets == []


def test_only_the_projects_keys_are_restored_other_namespaces_are_listed() -> None:
    current = config_of(8)
    current["linode:token"] = ConfigEntry(secret=True, text="linode-tok-ROTATED")
    current["kubernetes:enableServerSideApply"] = ConfigEntry(secret=False, text="true")
    plan = plan_rollback(load(SHOWN), 5, current)
    assert plan.other_namespaces == ["kubernetes:enableServerSideApply", "linode:token"]
    assert not any(k.startswith(("linode:", "kubernetes:")) for k in plan.to_set)
    assert "kubernetes:enableServerSideApply" not in plan.to_remove


def test_config_json_keeps_objects_as_objects_and_secrets_as_secrets() -> None:
    plan = plan_rollback(load(SHOWN), 5, config_of(8), restore_secrets=("vllmApiKey",))
    doc = json.loads(plan.config_json())
    models = doc[f"{P}models"]
    assert models["secret"] is False
    assert models["objectValue"][1]["image"] == "vllm/vllm-openai:v0.32.0"
    assert json.loads(models["value"]) == models["objectValue"]
    assert doc[f"{P}vllmApiKey"] == {"secret": True, "value": "sk-prod-SECONDKEY-2222"}


def test_plan_shows_leaf_changes_by_model_name_and_masks_every_secret() -> None:
    current = config_of(8)
    plan = plan_rollback(load(SHOWN), 5, current, restore_secrets=("vllmApiKey",))
    text = format_plan(plan, "production", "stack production", git_warnings(plan.target, None))
    image_v8 = "vllm/vllm-openai:v0.32.0@sha256:" + "2" * 64
    assert f"[llama-3-1-8b-instruct].image: {image_v8} -> vllm/vllm-openai:v0.32.0" in text
    assert "[llama-3-1-8b-instruct].replicas: 3 -> 2" in text
    assert f"- {P}gpuBudget = 10   (added after this version: removed)" in text
    assert f"~ {P}vllmApiKey = [secret]   (restored from the history: --restore-secret)" in text
    assert not any(s in text for s in SECRET_VALUES)


def test_a_config_that_no_longer_validates_is_reported_key_by_key() -> None:
    plan = plan_rollback(load(SHOWN), 1, config_of(8))
    problems = validate_restored(plan)
    assert "models[0].tensorParallelSize: unknown key" in problems
    assert f"{P}hfToken" not in plan.to_remove  # added after version 1, but a secret: kept


def test_a_config_the_planner_refuses_is_refused_before_anything_is_applied() -> None:
    """Validation is the program's: config, then planning (placement, memory, concurrency),
    then the builders. A version whose pool can leave the 70B Pending is refused here, not in
    the preview of an auto-rollback."""
    history = json.loads(SHOWN.read_text())
    v5 = next(u for u in history if u["version"] == 5)
    cluster = json.loads(v5["config"][f"{P}cluster"]["value"])
    cluster["gpuPool"]["autoscaler"]["max"] = 4
    v5["config"][f"{P}cluster"] = {"value": json.dumps(cluster), "secret": False}
    plan = plan_rollback(parse_history(history), 5, config_of(8))
    problems = validate_restored(plan)
    assert any(p.startswith("models[0].gpusPerReplica: a 2-GPU replica") for p in problems)


def test_git_warning_says_how_to_roll_back_the_code_too() -> None:
    target = next(u for u in load(HIDDEN) if u.version == 6)
    notes = git_warnings(target, "1" * 40)
    assert "the code changed since version 6" in notes[0]
    assert "git checkout e7b3d1f5a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0 -- ." in notes[0]
    assert "dirty worktree" in notes[1]
    five = next(u for u in load(HIDDEN) if u.version == 5)
    assert git_warnings(five, "c41e7a9b2d6f8e0c3a5b7d9f1e2c4a6b8d0f3e5a") == []
    assert "cannot tell the checked-out commit" in git_warnings(five, None)[0]


def test_rollback_message_names_the_version_and_the_commit() -> None:
    plan = plan_rollback(load(SHOWN), 5, config_of(8))
    message = rollback_message(plan, "production")
    assert "rollback of production to version 5 (git c41e7a9b2d6f)" in message


def test_stack_file_secure_values_are_secrets_with_unknown_values(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "config": {
                    f"{P}vllmApiKey": {"secure": "v1:abc"},
                    f"{P}gpuBudget": 2,
                    f"{P}protect": True,
                    f"{P}models": [{"name": "a"}],
                }
            }
        )
    )
    cfg = config_from_stack_file(path)
    assert cfg[f"{P}vllmApiKey"].secret and not cfg[f"{P}vllmApiKey"].known
    assert cfg[f"{P}gpuBudget"].text == "2" and cfg[f"{P}protect"].text == "true"
    assert cfg[f"{P}models"].is_object and cfg[f"{P}models"].semantic() == [{"name": "a"}]


# ----------------------------------------------------------------------------- the command


def test_offline_plan_from_a_history_file_prints_the_diff_and_applies_nothing() -> None:
    result = ops("rollback", "--stack", "production", "--to", "3", "--history-file", str(SHOWN))
    assert result.returncode == 0, result.stderr
    assert "Rollback of stack production to version 3" in result.stdout
    assert "Current configuration read from: Pulumi.production.yaml" in result.stdout
    current = yaml.safe_load((ROOT / "Pulumi.production.yaml").read_text())["config"]
    image_now = current["vllm-platform:models"][0]["image"]
    assert f"{image_now} -> vllm/vllm-openai:v0.32.0@sha256:{'0' * 64}" in result.stdout
    assert "Plan only (--history-file)" in result.stdout
    assert not any(s in result.stdout + result.stderr for s in SECRET_VALUES)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--to", "7"), "version 7 did not succeed"),
        (("--to", "99"), "version 99 is not in the stack's history"),
        (("--to", "5", "--yes"), "--history-file plans only and never applies"),
        (("--to", "1"), "models[0].tensorParallelSize: unknown key"),
    ],
)
def test_offline_refusals_exit_2_with_a_clear_message(args: tuple[str, ...], message: str) -> None:
    result = ops("rollback", "--stack", "production", "--history-file", str(SHOWN), *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not any(s in result.stdout + result.stderr for s in SECRET_VALUES)


def test_offline_plan_without_a_stack_file_compares_with_the_newest_update() -> None:
    result = ops("rollback", "--stack", "no-such-stack", "--to", "5", "--history-file", str(HIDDEN))
    assert result.returncode == 0, result.stderr
    assert "the newest update in the history (version 8)" in result.stdout
    assert "taken without --show-secrets" in result.stderr


def test_another_stacks_history_is_refused() -> None:
    """`--stack staging --history-file <production's>` once planned staging into production."""
    current = config_of(8)
    current[f"{P}environment"] = ConfigEntry(secret=False, text="staging")
    with pytest.raises(RollbackError, match="deployed environment 'production' but this stack"):
        plan_rollback(load(SHOWN), 6, current)
