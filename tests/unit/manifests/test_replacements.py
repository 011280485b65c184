"""Every stack-file change that replaces a Kubernetes object is named by ``ops plan --explain``
(before the edit) and by ``ops plan --against`` (for the edit).

For each committed stack and model, a set of one-key edits is rendered before and after; an
object is replaced when its name or namespace, or one of the fields pulumi-kubernetes replaces
on (k8s_semantics.REPLACE_FIELDS), differs. Each replacing edit's key must appear in a line of
the what-if catalogue of the unedited stack that says it replaces, and the report of the edit
must say the model's objects are replaced, delete-first or create-first.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from components.config import ConfigError, StackConfig, load_stack_config
from components.manifests.k8s_semantics import ALWAYS_REPLACE_FIELDS, REPLACE_FIELDS
from components.manifests.replacements import model_replacements
from components.manifests.vllm.render import model_objects
from components.planning.capacity import plan_stack
from components.resources.registration import child_name
from ops.plan_change import Side, change_lines
from ops.plan_explain import explain_lines
from tests.support.stackfiles import committed_stacks, raw_stack

Edit = Callable[[dict[str, Any]], None]


def _set(path: str, value: Callable[[Any], Any]) -> Edit:
    def apply(model: dict[str, Any]) -> None:
        node = model
        *parents, leaf = path.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value(node.get(leaf))

    return apply


EDITS: dict[str, Edit] = {
    "name": _set("name", lambda v: f"{v}-x"),
    "weightCache.sizeGi": _set("weightCache.sizeGi", lambda v: (v or 400) + 30),
    "weightCache.storageClass": _set("weightCache.storageClass", lambda v: "other-class"),
    "parametersBillions": _set("parametersBillions", lambda v: round(float(v) * 1.05, 2)),
    "image": _set("image", lambda v: "vllm/vllm-openai:v0.32.0@sha256:" + "1" * 64),
    "maxModelLen": _set("maxModelLen", lambda v: int(v) // 2),
}
NEVER_REPLACES = {
    "precision": _set("precision", lambda v: "bf16" if v == "fp8" else "fp8"),
}


def _objects(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    cfg: StackConfig = load_stack_config(raw, set()).config
    plan = plan_stack(cfg)
    out = {}
    for m in cfg.models:
        for obj in model_objects(cfg, m, plan.model(m.name)):
            if obj["kind"] != "Job":  # a new test run is a new Job by design (its name hashes)
                out[
                    f"{obj['kind']}/{child_name(m.name, obj).removeprefix(m.name + '-')}@{m.name}"
                ] = obj
    return out


def _get(obj: dict[str, Any], path: str) -> Any:
    node: Any = obj
    for p in path.split("."):
        node = node.get(p) if isinstance(node, dict) else None
    return node


def _replaced(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Objects the edit replaces (removed ones count: a rename deletes and creates)."""
    out = [k for k in before if k not in after]
    for key, old in before.items():
        new = after.get(key)
        if new is None:
            continue
        fields = (*ALWAYS_REPLACE_FIELDS, *REPLACE_FIELDS.get(old["kind"], ()))
        if any(_get(old, f) != _get(new, f) for f in fields):
            out.append(key)
    return out


def _plan_text(raw: dict[str, Any]) -> str:
    return "\n".join(explain_lines(load_stack_config(raw, set()).config, "stack"))


def _against_text(raw: dict[str, Any], edited: dict[str, Any]) -> str:
    old, new = load_stack_config(raw, set()), load_stack_config(edited, set())
    report = change_lines(Side(old, plan_stack(old.config)), Side(new, plan_stack(new.config)))
    return "\n".join(report.lines)


def _cases() -> list[Any]:
    return [
        pytest.param(stack, i, edit, id=f"{stack}-m{i}-{edit}")
        for stack in committed_stacks()
        for i in range(len(raw_stack(stack)["models"]))
        for edit in EDITS
    ]


@pytest.mark.parametrize(("stack", "index", "edit"), _cases())
def test_a_replacing_edit_is_named_by_the_plan(stack: str, index: int, edit: str) -> None:
    raw = raw_stack(stack)
    edited = copy.deepcopy(raw)
    EDITS[edit](edited["models"][index])
    replaced = _replaced(_objects(raw), _objects(edited))
    if not replaced:
        return
    key = f"models[{index}].{edit}"
    lines = [ln for ln in _plan_text(raw).splitlines() if key in ln and "replace" in ln]
    assert lines, f"{key} replaces {replaced} but --explain does not say so"
    report = _against_text(raw, edited)
    said = ("delete-first", "create-first")
    assert any(s in report for s in said), f"{key}: --against does not say so:\n{report}"


@pytest.mark.parametrize("stack", committed_stacks())
def test_precision_never_replaces_anything(stack: str) -> None:
    raw = raw_stack(stack)
    for index in range(len(raw["models"])):
        edited = copy.deepcopy(raw)
        NEVER_REPLACES["precision"](edited["models"][index])
        try:
            after = _objects(edited)
        except ConfigError:  # a precision that no longer fits is not this test
            continue
        assert _replaced(_objects(raw), after) == [], f"models[{index}].precision"


def test_the_weight_cache_size_follows_the_checkpoint_not_the_precision() -> None:
    """Serving the 8B at fp8 (quantized on load) keeps the bf16 checkpoint's cache size, so
    the StatefulSet's immutable volumeClaimTemplates do not move with the serving precision."""
    raw = raw_stack("production")
    name = raw["models"][1]["name"]
    sizes = {}
    for precision, args in (("bf16", []), ("fp8", ["--quantization", "fp8"])):
        raw["models"][1]["precision"] = precision
        raw["models"][1]["extraArgs"] = args
        sts = _objects(raw)[f"StatefulSet/statefulset@{name}"]
        sizes[precision] = sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]
    assert sizes["fp8"] == sizes["bf16"] == {"requests": {"storage": "33Gi"}}


@pytest.mark.parametrize(
    ("key", "value"), [("nodeLabels", {"pool": "gpu"}), ("taint", False)], ids=str
)
def test_a_gpu_pool_edit_that_restarts_every_model_is_named(key: str, value: Any) -> None:
    raw = raw_stack("production")
    before = _objects(raw)
    edited = copy.deepcopy(raw)
    edited["cluster"]["gpuPool"][key] = value
    after = _objects(edited)
    changed = [k for k in before if k.startswith("StatefulSet/") and before[k] != after.get(k)]
    assert len(changed) == len(raw["models"])  # every model's pod template moved
    lines = model_replacements(load_stack_config(raw).config)
    assert any(line.startswith("cluster.gpuPool.nodeLabels=") for line in lines)
