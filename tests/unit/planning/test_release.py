"""components/planning/release.py: the release record exported as the stack output `release`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.config import StackConfig
from components.config.source import SECRET
from components.planning.release import (
    GIT_COMMIT_ENV,
    config_digest,
    current_git_commit,
    release_record,
)
from tests.support.stackfiles import (
    raw_stack,
)

TEST_SECRETS = {"vllmApiKey": "sk-must-never-leak-0123", "registryPassword": "pw-never-leak-9"}


def raw_production() -> dict[str, Any]:
    raw = raw_stack("production")
    return raw


def validated(raw: dict[str, Any]) -> StackConfig:
    from components.config import load_stack_config

    return load_stack_config(raw, {k for k, v in raw.items() if v is SECRET}).config


def test_record_lists_each_model_image_revision_replicas_and_endpoint() -> None:
    cfg = validated(raw_production())
    record = release_record(cfg, "a" * 40)
    assert record["gitCommit"] == "a" * 40
    assert record["environment"] == "production"
    assert list(record["models"]) == [m.name for m in cfg.models]
    llama = record["models"]["llama-3-3-70b-instruct"]
    assert llama == {
        "hfModelId": "meta-llama/Llama-3.3-70B-Instruct",
        "image": cfg.models[0].image,
        "revision": "6f6073b423013f6a7d4d9f39144961bfbfbc386b",
        "replicas": 2,
        "endpoint": "http://llama-3-3-70b-instruct.vllm-production.svc.cluster.local:8000/v1",
    }
    json.dumps(record)  # plain JSON data, exportable as a stack output


def test_digest_ignores_key_order_and_spelled_out_defaults() -> None:
    raw = raw_production()
    reordered = dict(reversed(list(raw.items())))
    reordered["models"] = [dict(reversed(list(m.items()))) for m in raw["models"]]
    with_default = json.loads(json.dumps(raw))
    with_default["models"][0]["routingEnabled"] = True  # the default, written out
    digest = config_digest(validated(raw))
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64
    assert config_digest(validated(reordered)) == digest
    assert config_digest(validated(with_default)) == digest


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("models", 1, "image"), "vllm/vllm-openai:v0.32.0@sha256:" + "1" * 64),
        (("models", 0, "replicas"), 3),
    ],
)
def test_digest_changes_when_the_deployment_changes(path: tuple[Any, ...], value: Any) -> None:
    raw = raw_production()
    changed = json.loads(json.dumps(raw))
    node: Any = changed
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    assert config_digest(validated(changed)) != config_digest(validated(raw))


def test_record_and_digest_never_carry_secrets() -> None:
    raw = raw_production() | dict.fromkeys(TEST_SECRETS, SECRET)
    cfg = validated(raw)
    text = json.dumps(release_record(cfg, None))
    for key, value in TEST_SECRETS.items():
        assert value not in text
        assert key not in text
    # Secrets do not enter the digest either: setting them does not change it.
    assert config_digest(cfg) == config_digest(validated(raw_production()))


def test_git_commit_comes_from_the_environment_variable_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(GIT_COMMIT_ENV, "ABCDEF0123456789ABCDEF0123456789ABCDEF01")
    assert current_git_commit(tmp_path) == "abcdef0123456789abcdef0123456789abcdef01"
    monkeypatch.setenv(GIT_COMMIT_ENV, "not a sha; rm -rf /")
    assert current_git_commit(tmp_path) is None


def test_git_commit_is_none_outside_a_repository_or_without_git(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(GIT_COMMIT_ENV, raising=False)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert current_git_commit(tmp_path) is None
    monkeypatch.setenv("PATH", str(tmp_path))  # no git executable at all
    assert current_git_commit(tmp_path) is None
    assert current_git_commit(tmp_path / "does-not-exist") is None


def test_git_commit_reads_head_of_a_repository(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(GIT_COMMIT_ENV, raising=False)

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    git("init", "-q")
    assert current_git_commit(tmp_path) is None  # no commit yet
    (tmp_path / "f").write_text("x")
    git("add", "f")
    git("commit", "-q", "-m", "one")
    assert current_git_commit(tmp_path) == git("rev-parse", "HEAD")
