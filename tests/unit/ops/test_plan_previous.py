"""`ops plan --against REF` for a keepPrevious rollout (ops/plan_previous.py): the change that rolls
out a new image or revision must name, in ``rollout.previous``, the one REF serves; otherwise the
plan says a rollback would restart pods and exits 2. The base is production with the 8B
(models[1]) on keepPrevious 30, committed in a throwaway git repository."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.ops.test_plan_report import P, edit_stack, git, plan, repo  # noqa: F401

# The 8B serves this at the base; the rollout pins the same release by a digest (another image,
# still a version with a contract and no advisory, which production requires).
IMAGE = "vllm/vllm-openai:v0.32.0"
REVISION = "0e9e39f249a16976918f6564b8830bc894c89659"
NEW_IMAGE = IMAGE + "@sha256:" + "1" * 64
OTHER_REVISION = "5206a32e0bd3067aef1ce90f5528ade7d866253f"
OTHER_IMAGE = IMAGE + "@sha256:" + "2" * 64


@pytest.fixture
def stack(repo: Path) -> Path:  # noqa: F811
    """The base: the 8B with keepPrevious 30 and 11 nodes, room for its kept replicas."""
    path = repo / "Pulumi.production.yaml"

    def keep(cfg: dict[str, Any]) -> None:
        cfg[P + "cluster"]["gpuPool"]["autoscaler"]["max"] = 11
        cfg[P + "models"][1]["rollout"] = {"keepPrevious": 30}

    edit_stack(path, keep)
    git(repo, "commit", "-qam", "keepPrevious on the 8B")
    return path


def _roll_out(path: Path, *, model: int = 1, **previous: str) -> None:
    """A new image for ``models[model]``, with ``previous`` when given."""

    def change(cfg: dict[str, Any]) -> None:
        m = cfg[P + "models"][model]
        m["image"] = NEW_IMAGE
        if previous:
            m["rollout"]["previous"] = previous

    edit_stack(path, change)


def _in(minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _against(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, str]:
    code, lines = plan(capsys, "--file", str(path), "--against", "HEAD")
    return code, "\n".join(lines)


def _problems(text: str) -> list[str]:
    """The problem list, one entry per problem with its continuation lines."""
    out: list[str] = []
    for line in text.split("Problems:\n", 1)[1].splitlines():
        if line.startswith("  - "):
            out.append(line[4:])
        elif line.startswith("    ") and out:
            out[-1] += "\n" + line
        else:
            break
    return out


def test_a_rollout_without_previous_is_a_problem_with_the_yaml_to_add(
    stack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _roll_out(stack)
    start = datetime.now(UTC)
    code, text = _against(capsys, stack)
    assert code == 2 and text.startswith("1 problem · Pulumi.production.yaml"), text
    [problem] = _problems(text)
    head, block = problem.split("\n", 1)
    assert head.startswith("models[1].rollout.previous: llama-3-1-8b-instruct rolls out")
    assert "nothing is kept" in head and "a rollback restarts pods" in head
    assert "the window must end after the `pulumi up`" in head
    previous = yaml.safe_load(block)["previous"]  # pasted as is under rollout
    assert previous["image"] == IMAGE and previous["revision"] == REVISION
    until = datetime.fromisoformat(previous["until"])
    # now + keepPrevious 30 min, rounded up to 5 min
    assert start + timedelta(minutes=30) <= until <= datetime.now(UTC) + timedelta(minutes=35)
    assert until.minute % 5 == 0 and until.second == 0
    assert "llama-3-1-8b-instruct: image changed: blue/green (rollout.keepPrevious)" in text
    assert "the running revision is not kept as it runs (Problems)" in text


@pytest.mark.parametrize(
    ("key", "previous", "served"),
    [
        ("revision", {"image": IMAGE, "revision": OTHER_REVISION}, REVISION),
        ("image", {"image": OTHER_IMAGE, "revision": REVISION}, IMAGE),
    ],
)
def test_a_previous_that_is_not_what_the_ref_serves_is_a_problem_naming_its_key(
    stack: Path, key: str, previous: dict[str, str], served: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _roll_out(stack, image=previous["image"], revision=previous["revision"], until=_in(30))
    code, text = _against(capsys, stack)
    assert code == 2, text
    [problem] = _problems(text)
    assert problem.startswith(f"models[1].rollout.previous.{key}: ")
    assert f"is not the {key} HEAD serves ({served})" in problem
    assert problem.endswith(f"set it to {served}")


def test_the_right_previous_is_kept_and_a_model_without_keep_previous_restarts_as_before(
    stack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    until = _in(30)
    _roll_out(stack, image=IMAGE, revision=REVISION, until=until)
    _roll_out(stack, model=2)  # the Qwen has no keepPrevious: nothing to name
    code, text = _against(capsys, stack)
    assert code == 0 and "Problems:" not in text, text
    assert (
        f"keeps serving {IMAGE} at {REVISION} until {until} (30 min from now), the rollback "
        "target: a rollback to the version before inside the window is a switch, no restart"
    ) in text
    assert (
        "qwen-2-5-7b-instruct: image changed: restarts 2 replica(s), one at a time, the others "
        "serving; smoke test again"
    ) in text
    # the new revision is a new workload, started cold (7.2 min, as in the plain plan)
    assert "Time to ready (estimate): 7.2 min (llama-3-1-8b-instruct;" in text


def test_a_window_that_has_passed_is_a_problem_at_until(
    stack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _roll_out(stack, image=IMAGE, revision=REVISION, until="2020-01-01T00:00:00Z")
    code, text = _against(capsys, stack)
    assert code == 2, text
    [problem] = _problems(text)
    assert problem.startswith("models[1].rollout.previous.until: 2020-01-01T00:00:00Z has passed")


def test_a_window_longer_than_the_registry_keeps_a_target_is_a_problem_at_until(
    stack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The registry names a rollback target for at most 1440 minutes (migration 0007), while
    the kept replicas run until the first up after ``until``: past that, they hold their GPUs
    without being what a rollback switches to, and the plan must not promise the switch."""
    _roll_out(stack, image=IMAGE, revision=REVISION, until=_in(2 * 24 * 60))
    code, text = _against(capsys, stack)
    assert code == 2, text
    [problem] = _problems(text)
    assert problem.startswith("models[1].rollout.previous.until: ")
    assert "the registry names a rollback target for at most 1440 min" in problem
    assert "the rollback target" not in text.split("Problems:")[0]
    # what the plan suggests for keepPrevious 1440 (now + 1440 min, rounded up to 5) passes
    _roll_out(stack, image=IMAGE, revision=REVISION, until=_in(24 * 60 + 4))
    code, text = _against(capsys, stack)
    assert code == 0 and "Problems:" not in text, text


def test_other_keys_in_the_same_change_would_restart_the_kept_revision(
    stack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _roll_out(stack, image=IMAGE, revision=REVISION, until=_in(30))
    edit_stack(stack, lambda c: c[P + "models"][1].update(maxModelLen=8192))
    code, text = _against(capsys, stack)
    assert code == 2, text
    [problem] = _problems(text)
    assert problem.startswith("models[1].rollout.previous: the kept revision would not run as")
    assert "this change also changes maxModelLen" in problem
    assert problem.endswith("roll out the new image or revision in a change of its own")


def test_turning_keep_previous_on_keeps_nothing_and_needs_no_previous(
    stack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def on(previous: dict[str, str] | None) -> Any:
        def change(cfg: dict[str, Any]) -> None:
            m = cfg[P + "models"][2]
            m["image"] = NEW_IMAGE
            m["rollout"] = {"keepPrevious": 30} | ({"previous": previous} if previous else {})

        return change

    edit_stack(stack, on(None))
    code, text = _against(capsys, stack)
    assert code == 0 and "Problems:" not in text, text
    # a previous there names no running workload: it would start cold
    git(stack.parent, "checkout", "-q", stack.name)
    qwen = {"image": IMAGE, "revision": "a09a35458c702b33eeacc393d103063234e8bc28"}
    edit_stack(stack, on({**qwen, "until": _in(30)}))
    code, text = _against(capsys, stack)
    assert code == 2, text
    [problem] = _problems(text)
    assert problem.startswith(
        "models[2].rollout.previous: HEAD runs no qwen-2-5-7b-instruct with keepPrevious"
    )
    assert "would start cold and hold 2 GPUs; drop rollout.previous" in problem


def test_the_plain_plan_says_the_rollout_must_name_previous(
    stack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = plan(capsys, "--file", str(stack))
    assert code == 0
    [line] = [x for x in lines if "rollout.keepPrevious 30 min" in x]
    assert line.endswith(
        "keeps nothing now: the change that rolls out a new image or revision must set "
        "rollout.previous to the one it replaces, or a rollback restarts pods (`ops plan "
        "--against REF` checks it)"
    )
