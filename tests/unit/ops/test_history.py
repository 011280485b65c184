"""ops/history.py: parsing `pulumi stack history --json` and the `ops history` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ops.history import (
    HistoryError,
    Update,
    entry_from_json,
    format_history,
    history_rows,
    parse_history,
    secrets_shown,
)
from tests.fixtures.history import HIDDEN, SECRET_VALUES, SHOWN
from tests.support.ops_cli import ops
from tests.support.stackfiles import ROOT


def load(path: Path) -> list[Update]:
    return parse_history(json.loads(path.read_text()))


def by_version(updates: list[Update]) -> dict[int, Update]:
    return {u.version: u for u in updates}


def test_parses_every_update_newest_first_with_results_and_times() -> None:
    updates = load(HIDDEN)
    assert [u.version for u in updates] == [8, 7, 6, 5, 4, 3, 2, 1]
    v = by_version(updates)
    assert (v[8].result, v[8].end, v[8].duration, v[8].resource_changes) == (
        "in-progress",
        None,
        None,
        None,
    )
    assert v[7].result == "failed" and not v[7].succeeded
    assert v[4].kind == "refresh"
    assert v[5].succeeded and v[5].duration is not None
    assert v[5].duration.total_seconds() == 13 * 60 + 25
    assert v[5].resource_changes == {"update": 9, "same": 45}
    assert v[6].git_head == "e7b3d1f5a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0" and v[6].git_dirty
    assert v[5].environment["git.headName"] == "refs/heads/main"


def test_object_values_are_objects_and_scalars_decode_as_the_program_reads_them() -> None:
    v = by_version(load(HIDDEN))
    models = v[6].config["vllm-platform:models"]
    assert models.is_object and isinstance(models.semantic(), list)
    assert v[6].models() == [
        ("llama-3-3-70b-instruct", "vllm/vllm-openai:v0.32.0"),
        (
            "llama-3-1-8b-instruct",
            "vllm/vllm-openai:v0.32.0@sha256:1111111111111111111111111111111111111111111111111111111111111111",
        ),
        ("qwen-2-5-7b-instruct", "vllm/vllm-openai:v0.32.0"),
    ]
    assert v[6].config["vllm-platform:gpuBudget"].semantic() == 10
    assert v[6].config["vllm-platform:environment"].semantic() == "production"


def test_secrets_without_values_are_unknown_and_undecryptable_ones_are_flagged() -> None:
    hidden = by_version(load(HIDDEN))
    key = hidden[5].config["vllm-platform:vllmApiKey"]
    assert key.secret and not key.known
    shown = by_version(load(SHOWN))
    assert shown[5].config["vllm-platform:vllmApiKey"].semantic() == "sk-prod-SECONDKEY-2222"
    reader = shown[3].config["vllm-platform:registryReaderPassword"]
    assert reader.unreadable and not reader.known
    assert secrets_shown(load(SHOWN)) and not secrets_shown(load(HIDDEN))


def test_an_object_value_without_value_text_still_round_trips() -> None:
    entry = entry_from_json({"objectValue": {"a": [1, 2]}, "secret": False}, "x")
    assert entry.semantic() == {"a": [1, 2]}
    assert entry.to_config_json() == {
        "secret": False,
        "value": '{"a":[1,2]}',
        "objectValue": {"a": [1, 2]},
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"version": 1}, "expected a JSON list"),
        ([{"kind": "update"}], "update #1: `version` must be an integer"),
        ([{"version": 1, "config": {"p:k": {"value": 3, "secret": False}}}], "value: expected"),
        ([{"version": 1, "config": {"p:k": {"secret": "yes"}}}], "secret: expected true"),
        ([{"version": 1, "startTime": "yesterday"}], "not an ISO 8601 timestamp"),
        ([{"version": 1}, {"version": 1}], "version 1 appears twice"),
        ([{"version": 2, "resourceChanges": {"same": "x"}}], "resourceChanges"),
    ],
)
def test_malformed_history_is_rejected_with_the_place(data: Any, message: str) -> None:
    with pytest.raises(HistoryError, match=message):
        parse_history(data)


def test_table_shows_every_version_result_git_and_models_never_secrets() -> None:
    text = format_history(load(SHOWN), "production")
    for version in range(1, 9):
        assert f"\n{version} " in text
    assert "e7b3d1f5a9c2+dirty" in text
    assert (
        "llama-3-1-8b-instruct=vllm/vllm-openai:v0.32.0@sha256:1111111111111111111111111111111111111111111111111111111111111111"
        in text
    )
    assert "rollback targets (succeeded updates): 6, 5, 3, 1" in text
    assert not any(s in text for s in SECRET_VALUES)


def test_rows_for_json_carry_duration_models_and_no_config_values() -> None:
    rows = history_rows(load(SHOWN))
    assert rows[0]["version"] == 8 and rows[0]["durationSeconds"] is None
    v5 = next(r for r in rows if r["version"] == 5)
    assert v5["durationSeconds"] == 805
    assert v5["models"][0] == {
        "name": "llama-3-3-70b-instruct",
        "image": "vllm/vllm-openai:v0.32.0",
    }
    assert not any(s in json.dumps(rows) for s in SECRET_VALUES)


def test_history_command_prints_json_from_a_history_file() -> None:
    result = ops("history", "--stack", "production", "--history-file", str(SHOWN), "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["version"] for r in rows] == [8, 7, 6, 5, 4, 3, 2, 1]
    assert not any(s in result.stdout + result.stderr for s in SECRET_VALUES)


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not JSON"), ('{"a": 1}', "expected a JSON list of updates")],
)
def test_history_command_reports_a_bad_file_without_traceback(
    tmp_path: Path, content: str, message: str
) -> None:
    bad = tmp_path / "h.json"
    bad.write_text(content)
    result = ops("history", "--history-file", str(bad))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_history_command_without_the_cli_says_so_and_suggests_a_history_file(
    tmp_path: Path,
) -> None:
    import os

    env = {**os.environ, "PATH": str(tmp_path)}  # no pulumi (nor anything else) on PATH
    result = subprocess.run(
        [sys.executable, "-m", "ops", "history", "--stack", "production"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert result.returncode == 2
    assert "Pulumi CLI is required" in result.stderr
    assert "--history-file" in result.stderr
    assert "Traceback" not in result.stderr
