"""What a change does to the objects: both validated configs rendered and compared."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from components.config import load_stack_config
from components.manifests.changes import StackChanges, stack_changes
from components.manifests.stack import validate_stack
from tests.support.stackfiles import raw_stack

Raw = dict[str, Any]


def _changes(edit: Callable[[Raw], object], stack: str = "production") -> StackChanges:
    raw = raw_stack(stack)
    new = copy.deepcopy(raw)
    edit(new)
    old_loaded, new_loaded = load_stack_config(raw), load_stack_config(new)
    old_plan, _ = validate_stack(old_loaded)
    new_plan, _ = validate_stack(new_loaded)
    return stack_changes(old_loaded, old_plan, new_loaded, new_plan)


def _model(raw: Raw, i: int = 1) -> dict[str, Any]:
    model = raw["models"][i]
    assert isinstance(model, dict)
    return model


def test_a_new_image_restarts_the_pods_and_runs_the_smoke_test_again() -> None:
    [change] = _changes(
        lambda r: _model(r).update(image="vllm/vllm-openai:v0.32.0@sha256:" + "1" * 64)
    ).models
    assert (change.name, change.status, change.keys) == (
        "llama-3-1-8b-instruct",
        "changed",
        ("image",),
    )
    assert change.restarts and change.smoke_again
    assert not change.workload_replaced and change.kind_switch is None


def test_a_new_weight_cache_size_replaces_the_statefulset_delete_first() -> None:
    [change] = _changes(lambda r: _model(r).update(weightCache={"sizeGi": 50})).models
    assert change.workload_replaced == ("spec.volumeClaimTemplates",)
    assert change.restarts
    assert [(o.kind, o.action) for o in change.objects] == [("StatefulSet", "replace")]


def test_a_cache_mode_switch_changes_the_workload_kind_create_first() -> None:
    [change] = _changes(lambda r: _model(r).update(weightCache={"mode": "none"})).models
    assert change.kind_switch == ("StatefulSet", "Deployment")
    actions = {(o.kind, o.action) for o in change.objects}
    assert {("StatefulSet", "delete"), ("Deployment", "create")} <= actions


def test_a_rename_is_named_and_an_added_and_a_removed_model_are_told_apart() -> None:
    [renamed] = _changes(lambda r: _model(r).update(name="llama-8b")).models
    assert (renamed.status, renamed.renamed_from) == ("renamed", "llama-3-1-8b-instruct")

    def swap(raw: Raw) -> None:
        removed = raw["models"].pop(2)
        added = copy.deepcopy(removed)
        added.update(name="qwen-next", revision="0" * 40)
        raw["models"].append(added)

    statuses = {(c.name, c.status) for c in _changes(swap).models}
    assert statuses == {("qwen-next", "added"), ("qwen-2-5-7b-instruct", "removed")}


def test_routing_off_updates_in_place_without_a_restart() -> None:
    [change] = _changes(lambda r: _model(r).update(routingEnabled=False)).models
    assert change.routing == (True, False)
    assert not change.restarts and not change.smoke_again


def test_the_validated_configs_are_compared_not_the_yaml() -> None:
    """A default spelled out, or keys in another order, is no change."""

    def restate(raw: Raw) -> None:
        model = _model(raw)
        model["gpuMemoryUtilization"] = 0.9  # the default
        raw["models"][1] = dict(reversed(list(model.items())))

    assert _changes(restate).empty


def test_a_gpu_pool_label_change_restarts_every_model() -> None:
    changes = _changes(lambda r: r["cluster"]["gpuPool"].update(nodeLabels={"pool": "gpu"}))
    assert {c.name for c in changes.models if c.restarts} == {
        m["name"] for m in raw_stack("production")["models"]
    }
