"""LoRA adapters in `ops plan`: listed under their model with their slots' memory and how many
fit, and in --against the adapters a change adds or removes and the restart that causes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.ops.test_plan_report import P, against, edit_stack, git, plan, repo  # noqa: F401

SQL = {"name": "sql-expert", "hfRepo": "org/sql-lora", "revision": "c" * 40}
BOT = {"name": "support-bot", "hfRepo": "org/support-lora", "revision": "d" * 40}


def _adapters(*adapters: dict[str, str]) -> Any:
    return lambda c: c[P + "models"][1].update(loraAdapters=list(adapters))


def test_the_plan_lists_each_adapter_under_its_model_with_what_fits(
    repo: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    edit_stack(repo / "Pulumi.production.yaml", _adapters(SQL, BOT))
    code, lines = plan(capsys, "--file", str(repo / "Pulumi.production.yaml"))
    assert code == 0, "\n".join(lines)
    at = lines.index("LoRA adapters (served by their model's replicas):")
    # Llama-3.1-8B: 32 layers x rank 16 x (9 x 4096 + 2 x 1024 + 3 x 14336) x 2 bytes per slot.
    assert lines[at + 1].startswith(
        "  llama-3-1-8b-instruct: 2 slot(s) of rank 16 (maxLoras, maxLoraRank), 0.08 GiB each, "
        "0.16 GiB of the KV cache; at most "
    )
    assert lines[at + 2 : at + 4] == [
        f"    - sql-expert: org/sql-lora@{'c' * 40}",
        f"    - support-bot: org/support-lora@{'d' * 40}",
    ]


def test_against_names_the_added_and_removed_adapters_and_the_restart(
    repo: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    edit_stack(repo / "Pulumi.production.yaml", _adapters(SQL))
    git(repo, "commit", "-qam", "one adapter")
    git(repo, "tag", "one")
    edit_stack(repo / "Pulumi.production.yaml", _adapters(BOT))
    text = "\n".join(against(capsys, repo, "one"))
    assert (
        "llama-3-1-8b-instruct: loraAdapters changed (adapters added: support-bot; adapters "
        "removed: sql-expert): restarts 2 replica(s), one at a time, the others serving; "
        "smoke test again"
    ) in text, text
    assert (
        "Registry:\n"
        "  - llama-3-1-8b-instruct: rolling_out until the new smoke test passes on every replica, "
        "then healthy (updated); rollout_failed at its deadline\n"
        "  - support-bot (adapter of llama-3-1-8b-instruct): no row until "
        "llama-3-1-8b-instruct's smoke test passes, then registered\n"
        "  - sql-expert (adapter of llama-3-1-8b-instruct): retired (routing off; the row and its "
        "events are kept)\n"
    ) in text, text


def test_against_takes_a_kept_adapter_through_its_models_rollout(
    repo: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    edit_stack(repo / "Pulumi.production.yaml", _adapters(SQL, BOT))
    git(repo, "commit", "-qam", "two adapters")
    git(repo, "tag", "two")
    edit_stack(repo / "Pulumi.production.yaml", _adapters(SQL, {**BOT, "revision": "e" * 40}))
    text = "\n".join(against(capsys, repo, "two"))
    assert (
        "  - sql-expert (adapter of llama-3-1-8b-instruct): rolling_out with "
        "llama-3-1-8b-instruct, then healthy\n"
        "  - support-bot (adapter of llama-3-1-8b-instruct): rolling_out with "
        f"llama-3-1-8b-instruct, then healthy at revision {'e' * 40}\n"
    ) in text, text
    edit_stack(repo / "Pulumi.production.yaml", lambda c: c[P + "models"].pop(1))
    text = "\n".join(against(capsys, repo, "two"))
    assert "  - sql-expert (adapter of llama-3-1-8b-instruct): retired" in text, text
    assert "  - support-bot (adapter of llama-3-1-8b-instruct): retired" in text, text
