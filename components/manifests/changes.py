"""What changing a stack from one validated config to another does to its Kubernetes objects.

Pure: both configs are rendered with the same builders the program uses, and the objects are
compared by identity (kind, namespace, name). An object is replaced when one of the fields
pulumi-kubernetes replaces on changes (``k8s_semantics.REPLACE_FIELDS``), delete-first because
every name is fixed; a model's pods restart when its workload's pod template changes; a new
smoke-test Job (its name hashes the pod template, the test and the replica count) means the test
runs again and the registry row rolls out. A model whose workload changes kind (per-replica
cache: StatefulSet, else Deployment) or whose name changes gets new objects before the old ones
are deleted (create-first). What the config keys mean is ``ops plan --against``'s to say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from components.config import LoadedStack, ModelConfig, StackConfig
from components.manifests.k8s_semantics import ALWAYS_REPLACE_FIELDS, REPLACE_FIELDS
from components.manifests.stack import stack_objects
from components.manifests.vllm.render import model_objects
from components.planning.capacity import StackPlan

Key = tuple[str, str, str]  # kind, namespace, name
WORKLOAD_KINDS = ("StatefulSet", "Deployment")


@dataclass(frozen=True, slots=True)
class ObjectChange:
    kind: str
    name: str
    action: Literal["create", "delete", "replace", "update"]
    fields: tuple[str, ...] = ()  # replace: the fields that force it


@dataclass(frozen=True, slots=True)
class ModelChange:
    name: str
    status: Literal["added", "removed", "renamed", "changed"]
    keys: tuple[str, ...] = ()  # stack-file keys of the model that differ
    restarts: bool = False  # the pod template changed: every pod is replaced
    workload_replaced: tuple[str, ...] = ()  # delete-first: the fields that force it
    kind_switch: tuple[str, str] | None = None  # create-first: old kind, new kind
    smoke_again: bool = False  # a new smoke-test Job
    replicas: tuple[int, int] | None = None
    routing: tuple[bool, bool] | None = None
    renamed_from: str | None = None
    objects: tuple[ObjectChange, ...] = ()


@dataclass(frozen=True, slots=True)
class StackChanges:
    models: tuple[ModelChange, ...]
    shared: tuple[ObjectChange, ...]  # objects of no model: namespace, pre-puller, reporter

    @property
    def empty(self) -> bool:
        return not self.models and not self.shared


def _get(obj: Mapping[str, Any], path: str) -> Any:
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _key(obj: Mapping[str, Any]) -> Key:
    meta = obj["metadata"]
    return (str(obj["kind"]), str(meta.get("namespace", "")), str(meta["name"]))


def _diff(old: Iterable[Mapping[str, Any]], new: Iterable[Mapping[str, Any]]) -> list[ObjectChange]:
    before = {_key(o): o for o in old}
    after = {_key(o): o for o in new}
    out = [ObjectChange(k[0], k[2], "delete") for k in before if k not in after]
    out += [ObjectChange(k[0], k[2], "create") for k in after if k not in before]
    for key, was in before.items():
        now = after.get(key)
        if now is None or now == was:
            continue
        fields = (*ALWAYS_REPLACE_FIELDS, *REPLACE_FIELDS.get(key[0], ()))
        forced = tuple(f for f in fields if _get(was, f) != _get(now, f))
        out.append(ObjectChange(key[0], key[2], "replace" if forced else "update", forced))
    return out


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def stack_key_changes(old: StackConfig, new: StackConfig) -> list[tuple[str, Any, Any]]:
    """The keys outside ``models`` (as written: ``cluster.gpuPool.type``) whose validated
    values differ: key, old value, new value."""
    was = _flat(old.model_dump(by_alias=True, mode="json", exclude={"models"}))
    now = _flat(new.model_dump(by_alias=True, mode="json", exclude={"models"}))
    keys = sorted(was.keys() | now.keys())
    return [(k, was.get(k), now.get(k)) for k in keys if was.get(k) != now.get(k)]


def changed_keys(old: ModelConfig, new: ModelConfig) -> tuple[str, ...]:
    """The model's stack-file keys (as written: ``weightCache.mode``) whose validated values
    differ, defaults included."""
    was = _flat(old.model_dump(by_alias=True, mode="json"))
    now = _flat(new.model_dump(by_alias=True, mode="json"))
    return tuple(k for k in sorted(was.keys() | now.keys()) if was.get(k) != now.get(k))


def _workload(objects: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return next((o for o in objects if o["kind"] in WORKLOAD_KINDS), None)


def _smoke_jobs(objects: Iterable[Mapping[str, Any]]) -> set[str]:
    return {str(o["metadata"]["name"]) for o in objects if o["kind"] == "Job"}


def _model_change(
    name: str, old: ModelConfig, new: ModelConfig, was: list[Any], now: list[Any]
) -> ModelChange | None:
    objects = [c for c in _diff(was, now) if c.kind != "Job"]
    old_w, new_w = _workload(was), _workload(now)
    switch = None
    if old_w is not None and new_w is not None and old_w["kind"] != new_w["kind"]:
        switch = (str(old_w["kind"]), str(new_w["kind"]))
    restarts = bool(
        old_w is not None
        and new_w is not None
        and _get(old_w, "spec.template") != _get(new_w, "spec.template")
    )
    replaced = next(
        (c.fields for c in objects if c.kind in WORKLOAD_KINDS and c.action == "replace"), ()
    )
    change = ModelChange(
        name=name,
        status="changed",
        keys=changed_keys(old, new),
        restarts=restarts or switch is not None or bool(replaced),
        workload_replaced=replaced,
        kind_switch=switch,
        smoke_again=_smoke_jobs(was) != _smoke_jobs(now),
        replicas=(old.replicas, new.replicas) if old.replicas != new.replicas else None,
        routing=(old.routing_enabled, new.routing_enabled)
        if old.routing_enabled != new.routing_enabled
        else None,
        objects=tuple(objects),
    )
    return change if change.keys or change.objects or change.smoke_again else None


def _renames(old: Mapping[str, ModelConfig], new: Mapping[str, ModelConfig]) -> dict[str, str]:
    """New name -> old name, for a removed and an added model serving the same weights."""
    gone = [m for n, m in old.items() if n not in new]
    came = [m for n, m in new.items() if n not in old]
    out: dict[str, str] = {}
    for m in came:
        same = [g for g in gone if (g.hf_model_id, g.revision) == (m.hf_model_id, m.revision)]
        if len(same) == 1 and same[0].name not in out.values():
            out[m.name] = same[0].name
    return out


def stack_changes(
    old: LoadedStack, old_plan: StackPlan, new: LoadedStack, new_plan: StackPlan
) -> StackChanges:
    """Every model's change and every other object's, from ``old`` to ``new``."""
    olds = {m.name: m for m in old.config.models}
    news = {m.name: m for m in new.config.models}
    was = {n: model_objects(old.config, m, old_plan.model(n)) for n, m in olds.items()}
    now = {n: model_objects(new.config, m, new_plan.model(n)) for n, m in news.items()}
    renames = _renames(olds, news)
    models: list[ModelChange] = []
    for name, model in news.items():
        if name in olds:
            change = _model_change(name, olds[name], model, was[name], now[name])
            if change is not None:
                models.append(change)
        elif name in renames:
            models.append(ModelChange(name, "renamed", renamed_from=renames[name], restarts=True))
        else:
            models.append(ModelChange(name, "added"))
    models += [
        ModelChange(n, "removed") for n in olds if n not in news and n not in renames.values()
    ]
    own = {_key(o) for objs in [*was.values(), *now.values()] for o in objs}
    rest_old = [o for o in stack_objects(old, old_plan) if _key(o) not in own]
    rest_new = [o for o in stack_objects(new, new_plan) if _key(o) not in own]
    return StackChanges(models=tuple(models), shared=tuple(_diff(rest_old, rest_new)))
