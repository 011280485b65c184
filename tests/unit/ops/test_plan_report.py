"""`ops plan` as a reviewer reads it: the verdict first, only what is true of the stack in the
default report, the what-ifs behind --explain, and what one change does behind --against (a
git ref, read with git in a throwaway repository). Run in-process, as `python -m ops` runs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops.__main__ import main
from tests.support.stackfiles import ROOT, committed_stacks

P = "vllm-platform:"


def plan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["plan", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out.splitlines()


def _cautions_listed(lines: list[str]) -> int:
    """The items under every "Cautions..." heading."""
    count, under = 0, False
    for line in lines:
        if line.startswith("Cautions"):
            under = True
        elif under and line.startswith("  - "):
            count += 1
        else:
            under = False
    return count


@pytest.mark.parametrize("stack", committed_stacks())
def test_the_first_line_is_the_verdict_and_counts_the_cautions_listed(
    stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = plan(capsys, "--stack", stack)
    assert code == 0
    cautions = _cautions_listed(lines)
    expected = f"{cautions} caution{'' if cautions == 1 else 's'}" if cautions else "OK"
    assert lines[0].startswith(f"{expected} · Pulumi.{stack}.yaml: environment ")


def test_production_fits_forty_lines_with_its_two_findings_and_no_what_ifs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, lines = plan(capsys, "--stack", "production")
    assert code == 0 and len(lines) <= 40, "\n".join(lines)
    assert lines[0].startswith("2 cautions · Pulumi.production.yaml")
    text = "\n".join(lines)
    assert "misses the 10.0 min target (SC-001)" in text
    assert "misses the 5.0 min target (SC-004)" in text
    # What a change would do is --explain's, not the default's.
    assert "a new region replaces" not in text and "replaces every object" not in text
    assert "GPU cost: $14,600/month at 4 nodes (autoscaler min), $25,550 at 7 (max)" in text


def test_explain_is_the_what_if_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = plan(capsys, "--stack", "production", "--explain")
    text = "\n".join(lines)
    assert code == 0 and lines[0].startswith("2 cautions · ")
    assert "cluster.region=us-ord: a new region replaces the LKE cluster" in text
    assert "cluster.highAvailability=true: cannot be turned off again" in text
    assert "needs 4 spare GPUs meanwhile; the quota holds both" in text  # the 70B, create-first
    assert "replaces it delete-first" in text


def test_explain_and_against_together_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--stack", "production", "--explain", "--against", "HEAD"]) == 2
    assert "--explain or --against, not both" in capsys.readouterr().err


# ------------------------------------------------------------------------------- --against


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository holding production's stack file, committed as `base`."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    shutil.copy(ROOT / "Pulumi.production.yaml", tmp_path / "Pulumi.production.yaml")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "base")
    git(tmp_path, "tag", "base")
    return tmp_path


def edit_stack(path: Path, change: Any) -> None:
    doc = yaml.safe_load(path.read_text())
    change(doc["config"])
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def against(capsys: pytest.CaptureFixture[str], repo: Path, ref: str = "base") -> list[str]:
    code, lines = plan(capsys, "--file", str(repo / "Pulumi.production.yaml"), "--against", ref)
    assert code == 0, "\n".join(lines)
    return lines


# The same release pinned by a digest: another image for the rollout, still a version with a
# contract and no critical/high advisory, which production requires (docs/vllm-contract.md).
NEW_IMAGE = "vllm/vllm-openai:v0.32.0@sha256:" + "1" * 64


def test_a_new_image_for_one_model_restarts_it_one_replica_at_a_time(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_stack(
        repo / "Pulumi.production.yaml",
        lambda c: c[P + "models"][1].update(image=NEW_IMAGE),
    )
    lines = against(capsys, repo)
    text = "\n".join(lines)
    assert len(lines) <= 40, text
    assert lines[0].endswith("against base: 1 change")
    assert "Cautions this change adds:" not in text  # same version, a contract, no advisory
    assert (
        "llama-3-1-8b-instruct: image changed: restarts 2 replica(s), one at a time, the others "
        "serving; smoke test again"
    ) in text
    assert "llama-3-1-8b-instruct: rolling_out until the new smoke test passes" in text
    # 2 x (30 s scheduling + 45.7 s load at 350 MB/s + 110 s cold compile), image pre-pulled
    assert "Time to ready (estimate): 6.2 min (llama-3-1-8b-instruct; models change" in text
    assert "Spare GPUs meanwhile: none" in text and "Secrets newly required: none" in text
    assert "GPU cost: unchanged ($14,600 to $25,550 a month at list price)" in text


def test_a_rename_is_create_first_and_a_bigger_pool_costs_more(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def change(cfg: dict[str, Any]) -> None:
        cfg[P + "models"][1]["name"] = "llama-8b"
        cfg[P + "cluster"]["gpuPool"]["autoscaler"]["max"] = 8

    edit_stack(repo / "Pulumi.production.yaml", change)
    text = "\n".join(against(capsys, repo))
    assert "llama-8b: renamed from llama-3-1-8b-instruct" in text and "create-first" in text
    assert "Spare GPUs meanwhile: 2 for llama-8b (create-first)" in text
    assert "llama-8b: no row until its smoke test passes, then registered (healthy)" in text
    assert "llama-3-1-8b-instruct: retired" in text
    assert "cluster.gpuPool.autoscaler.max: 7 -> 8" in text
    # one more $3,650 node-month at the maximum
    assert "$25,550 -> $29,200 at its maximum (+$3,650)" in text


def test_a_model_that_becomes_gated_needs_the_hf_token(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def nothing_gated(cfg: dict[str, Any]) -> None:
        for model in cfg[P + "models"]:
            model["gated"] = False

    path = repo / "Pulumi.production.yaml"
    edit_stack(path, nothing_gated)
    git(repo, "commit", "-qam", "nothing gated")
    edit_stack(path, lambda c: c[P + "models"][2].update(gated=True))
    text = "\n".join(against(capsys, repo, "HEAD"))
    assert "Secrets newly required: hfToken (not set yet)" in text


def test_the_same_config_written_differently_is_no_change(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_stack(
        repo / "Pulumi.production.yaml",
        lambda c: c[P + "models"][1].update(gpuMemoryUtilization=0.9),
    )
    lines = against(capsys, repo)
    assert lines[0].endswith("against base: no change")


@pytest.mark.parametrize("ref", ["", "  "])
def test_an_empty_ref_exits_2_instead_of_planning_without_a_comparison(
    ref: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "--stack", "production", "--against", ref]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "--against: give a git ref" in err


def test_a_ref_git_does_not_know_exits_2(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--file", str(repo / "Pulumi.production.yaml"), "--against", "nope"]) == 2
    assert "--against nope: not a commit, branch or tag" in capsys.readouterr().err


def test_a_symlinked_stack_file_is_compared_where_it_lives(
    repo: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """A link's own name is in no commit: it was planned as "a new stack, everything is
    created" while nothing changed."""
    link = tmp_path_factory.mktemp("elsewhere") / "Pulumi.link.yaml"
    link.symlink_to(repo / "Pulumi.production.yaml")
    code, lines = plan(capsys, "--file", str(link), "--against", "base")
    assert code == 0 and lines[0].endswith("against base: no change"), "\n".join(lines)


def test_a_stack_file_outside_any_git_repository_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "Pulumi.production.yaml"
    shutil.copy(ROOT / "Pulumi.production.yaml", copy)
    assert main(["plan", "--file", str(copy), "--against", "main"]) == 2
    assert f"--against main: {tmp_path} is not inside a git repository" in capsys.readouterr().err


def test_a_stack_file_new_since_the_ref_is_a_new_stack(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(repo / "Pulumi.production.yaml", repo / "Pulumi.copy.yaml")
    code, lines = plan(capsys, "--file", str(repo / "Pulumi.copy.yaml"), "--against", "base")
    assert code == 0
    assert lines[1] == "Pulumi.copy.yaml does not exist at base: a new stack, everything is created"


def test_problems_in_the_changed_file_exit_2(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_stack(repo / "Pulumi.production.yaml", lambda c: c[P + "models"][1].update(replicas=0))
    code, lines = plan(capsys, "--file", str(repo / "Pulumi.production.yaml"), "--against", "base")
    assert code == 2 and lines[0] == "1 problem · Pulumi.production.yaml"


def test_a_new_gpu_plan_replaces_the_pool_and_every_model_starts_cold(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_stack(
        repo / "Pulumi.production.yaml",
        lambda c: c[P + "cluster"]["gpuPool"].update(type="g3-gpu-rtxpro6000-blackwell-4"),
    )
    text = "\n".join(against(capsys, repo))
    assert (
        "cluster.gpuPool.type: g3-gpu-rtxpro6000-blackwell-2 -> g3-gpu-rtxpro6000-blackwell-4: "
        "a new plan replaces the GPU node pool"
    ) in text
    # the 70B's cold start (28.0 min, docs/time-to-ready.md) bounds it
    assert (
        "Time to ready (estimate): 28.0 min ! (llama-3-3-70b-instruct; every model starts" in text
    )
    # 4..7 nodes of $10.00/h instead of $5.00/h
    assert "$14,600 -> $29,200 at the pool's minimum (+$14,600)" in text


@pytest.mark.parametrize(
    ("key", "value"),
    [("namespace", None), ("cluster", {"label": None})],  # their defaults: what production sets
)
def test_a_name_left_to_its_default_is_no_change(
    key: str, value: Any, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unset, ``namespace`` is ``vllm-<environment>`` and ``cluster.label`` the same: removing
    a value equal to the default renames nothing (no namespace replaced, no model restarted)."""

    def unset(cfg: dict[str, Any]) -> None:
        if value is None:
            cfg.pop(P + key)
        else:
            cfg[P + key].update(value)
            cfg[P + key] = {k: v for k, v in cfg[P + key].items() if v is not None}

    edit_stack(repo / "Pulumi.production.yaml", unset)
    lines = against(capsys, repo)
    assert lines[0].endswith("against base: no change"), "\n".join(lines)


def test_a_rename_the_quota_cannot_hold_is_a_problem_with_the_two_updates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """development's quota (gpuBudget 2) is full: a renamed model's new workload cannot start
    beside the old one (planning/transitions.py), so --against exits 2 naming the two updates."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    git(tmp_path, "init", "-q")
    shutil.copy(ROOT / "Pulumi.development.yaml", tmp_path / "Pulumi.development.yaml")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "b")
    path = tmp_path / "Pulumi.development.yaml"
    edit_stack(path, lambda c: c[P + "models"][0].update(name="llama-8b"))
    code, lines = plan(capsys, "--file", str(path), "--against", "HEAD")
    assert code == 2
    assert lines[0].startswith("1 problem · Pulumi.development.yaml")
    problems = "\n".join(lines[lines.index("Problems:") :])
    assert "refused" in problems and "do it in two updates" in problems


@pytest.mark.parametrize("mode", [["--explain"], ["--against", "base"]], ids=["explain", "against"])
def test_every_view_lists_the_cautions_its_verdict_counts(
    repo: Path, mode: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The verdict is of the stack; a reader of --explain or of an unchanged --against must
    find the two cautions it counts, not a bare "2 cautions"."""
    code, lines = plan(capsys, "--file", str(repo / "Pulumi.production.yaml"), *mode)
    assert code == 0
    assert lines[0].startswith("2 cautions · ")
    assert _cautions_listed(lines) == 2, "\n".join(lines)


def test_a_streamed_model_names_the_bucket_the_stack_makes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = yaml.safe_load((ROOT / "Pulumi.production.yaml").read_text())
    doc["config"]["vllm-platform:models"][0]["weightSource"] = {"kind": "objectStorage"}
    path = tmp_path / "Pulumi.production.yaml"
    path.write_text(yaml.safe_dump(doc))
    code, lines = plan(capsys, "--file", str(path))
    assert code == 0, lines
    name = doc["config"]["vllm-platform:models"][0]["name"]
    [line] = [x for x in lines if x.startswith("Weights bucket: ")]
    assert line.startswith(
        f"Weights bucket: 'vllm-platform-vllm-production-weights' in us-ord, made by this "
        f"stack, for {name} ("
    ), line
    code, lines = plan(capsys, "--stack", "production")
    assert code == 0 and not [x for x in lines if x.startswith("Weights")], lines
