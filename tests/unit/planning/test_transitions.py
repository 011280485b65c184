"""components/planning/transitions.py: create-before-delete changes and the GPUs they need."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.config import StackConfig, load_stack_config
from components.config.source import read_stack_file
from components.planning.transitions import create_first_findings, create_first_line
from tests.support.stackfiles import ROOT, raw_stack

Edit = Callable[[dict[str, Any]], None]


def _cfg(stack: str, *edits: Edit) -> StackConfig:
    raw = raw_stack(stack)
    for edit in edits:
        edit(raw)
    return load_stack_config(raw, {"vllmApiKey", "hfToken"}).config


def _rename(i: int, name: str) -> Edit:
    def edit(raw: dict[str, Any]) -> None:
        raw["models"][i]["name"] = name

    return edit


def _mode(i: int, mode: str, storage_class: str | None = None) -> Edit:
    def edit(raw: dict[str, Any]) -> None:
        cache: dict[str, Any] = {"mode": mode}
        if storage_class:
            cache["storageClass"] = storage_class
        raw["models"][i]["weightCache"] = cache

    return edit


def _set(key: str, value: Any) -> Edit:
    def edit(raw: dict[str, Any]) -> None:
        raw[key] = value

    return edit


def test_a_rename_in_a_full_quota_is_refused_with_the_two_updates_that_work() -> None:
    old = _cfg("development")
    new = _cfg("development", _rename(0, "llama-3-1-8b-chat"))
    [finding] = create_first_findings(old, new)
    assert finding.path == "models[0].name"
    assert finding.spare_gpus == 1 and finding.refused
    text = str(finding)
    assert "requests 3 GPUs at the update's peak and its quota holds 2: refused" in text
    assert "first remove models[0] (llama-3-1-8b-instruct) and run `pulumi up`" in text
    assert "then add it back as llama-3-1-8b-chat and run `pulumi up`" in text
    assert finding.issue().path == "models[0].name"


def test_the_two_updates_pass_the_same_check() -> None:
    old = _cfg("development")
    removed = _cfg("development", lambda raw: raw["models"].pop(0))
    renamed = _cfg("development", _rename(0, "llama-3-1-8b-chat"))
    assert create_first_findings(old, removed) == []
    [finding] = create_first_findings(removed, renamed)
    assert not finding.refused and finding.two_steps == ()


def test_a_rename_the_quota_can_hold_is_named_but_not_refused() -> None:
    old = _cfg("development", _set("gpuBudget", 3), _set("otherNamespacesGpuBudget", 1))
    new = _cfg(
        "development",
        _set("gpuBudget", 3),
        _set("otherNamespacesGpuBudget", 1),
        _rename(1, "qwen-chat"),
    )
    [finding] = create_first_findings(old, new)
    assert (finding.path, finding.spare_gpus, finding.refused) == ("models[1].name", 1, False)
    assert "needs 1 spare GPU;" in str(finding)


def test_a_budget_raised_in_the_same_change_does_not_count_before_the_quota_changed() -> None:
    old = _cfg("development")
    new = _cfg(
        "development",
        _set("gpuBudget", 3),
        _set("otherNamespacesGpuBudget", 1),
        _rename(0, "llama-3-1-8b-chat"),
    )
    [finding] = create_first_findings(old, new)
    assert finding.refused


def test_a_cache_mode_switch_creates_the_other_kind_first() -> None:
    old = _cfg("production")
    new = _cfg("production", _mode(2, "shared", "nfs-rwx"))
    [finding] = create_first_findings(old, new)
    assert finding.path == "models[2].weightCache.mode"
    assert "per-replica -> shared: the Deployment is created before the StatefulSet" in str(finding)
    assert finding.spare_gpus == 2 and not finding.refused


def test_a_cache_mode_switch_in_a_full_quota_is_refused() -> None:
    old = _cfg("staging")
    new = _cfg("staging", _mode(1, "none"))
    [finding] = create_first_findings(old, new)
    assert finding.refused
    assert "then add it back with weightCache.mode: none" in str(finding)


@pytest.mark.parametrize(
    "edit",
    [
        _set("gpuBudget", 2),  # no change at all
        lambda raw: raw["models"][0].update(image=raw["models"][0]["image"].split("@")[0]),
        lambda raw: raw["models"].pop(),  # removed only
        _mode(0, "none", None),  # shared -> none: the same Deployment, updated in place
    ],
)
def test_changes_made_in_place_or_removals_need_nothing(edit: Edit) -> None:
    base: list[Edit] = [_mode(0, "shared", "nfs-rwx")]
    old = _cfg("development", *base)
    new = _cfg("development", *base, edit)
    assert create_first_findings(old, new) == []


def test_a_new_namespace_moves_every_object_and_needs_the_pool_for_both() -> None:
    old = _cfg("development")
    new = _cfg("development", _set("namespace", "vllm-dev2"))
    [finding] = create_first_findings(old, new)
    assert finding.path == "namespace" and finding.refused
    assert "the GPU pool holds 2 GPUs beside the other namespaces and both would request 4" in (
        str(finding)
    )


def test_the_standing_line_names_the_spare_gpus_a_model_would_need() -> None:
    dev = _cfg("development")
    line = create_first_line(dev, 0)
    assert "needs 1 spare GPU meanwhile" in line
    assert "cannot hold both, so do it in two updates: remove models[0]" in line
    assert "needs 4 spare GPUs meanwhile; the quota holds both" in create_first_line(
        _cfg("production"), 0
    )


def test_a_cpu_model_needs_no_spare_gpu() -> None:
    raw, secrets = read_stack_file(ROOT / "examples" / "Pulumi.local.yaml")
    cpu = load_stack_config(raw, secrets).config
    assert cpu.models[0].accelerator == "cpu"
    line = create_first_line(cpu, 0)
    assert "create the new workload before the old one is deleted" in line
    assert "GPU" not in line.split("deleted at the end of the update", 1)[1]


def _keep(i: int, revision: str | None = None) -> Edit:
    def edit(raw: dict[str, Any]) -> None:
        raw["models"][i]["rollout"] = {"keepPrevious": 30}
        if revision is not None:
            raw["models"][i]["revision"] = revision

    return edit


def test_a_revision_bump_under_keep_previous_is_a_new_workload_at_the_peak() -> None:
    # keepPrevious names the workload for its revision: the bump creates another one while the
    # old keeps its pods, so a rename in the same change finds the quota one GPU shorter.
    budget = (_set("gpuBudget", 3), _set("otherNamespacesGpuBudget", 0))
    old = _cfg("development", *budget, _keep(1))
    renamed = _rename(0, "llama-3-1-8b-chat")
    [alone] = create_first_findings(old, _cfg("development", *budget, _keep(1), renamed))
    assert "requests 3 GPUs at the update's peak and its quota holds 3" in str(alone)
    assert not alone.refused
    bumped = _cfg("development", *budget, _keep(1, "b" * 40), renamed)
    [finding] = create_first_findings(old, bumped)
    assert "requests 4 GPUs at the update's peak and its quota holds 3: refused" in str(finding)
