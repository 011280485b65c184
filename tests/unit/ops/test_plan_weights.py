"""`ops plan --against REF` for a model streamed from the stack's bucket (``weightSource.kind:
objectStorage``): the staging Job copies a revision the bucket does not hold yet, from the Hub,
before the servers change, so the time to ready counts the copy; a new bucket label replaces the
bucket and so stages every streamed revision again. The base: production's 70B streamed,
committed in a throwaway git repository. Figures by hand: the 70B stores 141.2 GB; the copy is
its download and its upload at the Hub's rate into a volume, 2 x 141.2 GB / 350 MB/s = 806.9 s;
a warm restart of a streamed replica is 30 s + 141.2 GB / 1000 MB/s + 75 s = 246.2 s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.ops.test_plan_report import P, edit_stack, git, plan, repo  # noqa: F401

STREAMED = {"kind": "objectStorage"}
LABEL = "vllm-platform-vllm-production-weights"


def _stream(cfg: dict[str, Any]) -> None:
    cfg[P + "models"][0]["weightSource"] = STREAMED


@pytest.fixture
def streamed(repo: Path) -> Path:  # noqa: F811
    path = repo / "Pulumi.production.yaml"
    edit_stack(path, _stream)
    git(repo, "commit", "-qam", "the 70B streams")
    return path


def _against(capsys: pytest.CaptureFixture[str], path: Path) -> str:
    code, lines = plan(capsys, "--file", str(path), "--against", "HEAD")
    assert code == 0, "\n".join(lines)
    return "\n".join(lines)


def test_a_new_bucket_label_replaces_the_bucket_and_stages_again_first(
    streamed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_stack(streamed, lambda c: c.update({P + "weightStore": {"bucket": "acme-llm-weights"}}))
    text = _against(capsys, streamed)
    [line] = [x for x in text.splitlines() if x.startswith("  - weightStore.bucket: ")]
    assert line.startswith(
        "  - weightStore.bucket: None -> acme-llm-weights: a new label replaces the bucket"
    )
    assert "staged again from the Hub" in line
    assert "refused while protected" in line  # production protects its bucket
    # 806.9 s of staging, then 2 x 246.2 s one replica at a time: 1299.3 s
    assert "Time to ready (estimate): 21.7 min ! (llama-3-3-70b-instruct;" in text


def test_the_first_streamed_model_brings_the_bucket_and_stages_its_revision_first(
    repo: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = repo / "Pulumi.production.yaml"
    edit_stack(path, _stream)
    text = _against(capsys, path)
    assert f"  - ObjectStorageBucket {LABEL} (with its key): create in us-ord" in text
    assert "Time to ready (estimate): 21.7 min ! (llama-3-3-70b-instruct;" in text


def test_a_change_that_keeps_the_staged_revision_copies_nothing(
    streamed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_stack(streamed, lambda c: c[P + "models"][0]["weightSource"].update(concurrency=12))
    text = _against(capsys, streamed)
    # 2 x 246.2 s, one replica at a time, from the revision the bucket holds
    assert "Time to ready (estimate): 8.2 min (llama-3-3-70b-instruct;" in text
    assert "weightStore.bucket" not in text


def test_the_bucket_goes_with_the_last_streamed_model(
    streamed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_stack(streamed, lambda c: c[P + "models"][0].update(weightSource={"kind": "hub"}))
    text = _against(capsys, streamed)
    assert (
        f"  - ObjectStorageBucket {LABEL} (with its key): delete, emptied first: every staged "
        "revision goes; refused while protected"
    ) in text


def test_spelling_out_the_default_bucket_label_changes_nothing(
    streamed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_stack(streamed, lambda c: c.update({P + "weightStore": {"bucket": LABEL}}))
    text = _against(capsys, streamed)
    assert text.splitlines()[0].endswith("against HEAD: no change"), text
    assert "replaces the bucket" not in text and "Time to ready" not in text
