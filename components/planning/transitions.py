"""Changes whose new objects exist beside the old ones until the update ends, and their GPUs.

A new model name, a ``weightCache.mode`` switch between StatefulSet and Deployment, or a renamed
namespace registers new resources that the engine creates before it deletes the old ones
(docs/provider-semantics.md, "Engine"); the GPU quota must hold both meanwhile. Pure:
``create_first_findings(old, new)`` compares two validated configs (rollback, ``--against``);
``create_first_line(cfg, i)`` says what a rename or mode switch of one model would need.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.config import ConfigIssue, ModelConfig, StackConfig
from components.planning.capacity import plan_stack
from components.planning.keep_previous import kept_gpus, renames_workload


@dataclass(frozen=True, slots=True)
class CreateFirstFinding:
    """One create-before-delete change, the spare GPUs it needs, and whether they exist."""

    path: str
    message: str
    spare_gpus: int
    """GPUs requested twice while the change is under way (the new objects' own)."""
    refused: bool
    """The GPUs held at the update's peak exceed what the quota (or the pool) holds."""
    two_steps: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}"
        if self.two_steps:
            text += "; do it in two updates: " + "; ".join(self.two_steps)
        return text

    def issue(self) -> ConfigIssue:
        return ConfigIssue(self.path, str(self).removeprefix(f"{self.path}: "))


def _plural(n: int) -> str:
    return f"{n} spare GPU" + ("" if n == 1 else "s")


def _gpus(models: list[ModelConfig]) -> int:
    return sum(m.gpus_total for m in models)


def _surge(old: StackConfig, new: StackConfig) -> int:
    """Surge GPUs of the models updated in place that change (they roll in the same update)."""
    before = {m.name: m for m in old.models}
    changed = {
        m.name
        for m in new.models
        if m.name in before
        and before[m.name] != m
        and before[m.name].uses_statefulset == m.uses_statefulset
    }
    if not changed:
        return 0
    return sum(p.surge_gpus for p in plan_stack(new).models if p.name in changed)


def _kind(m: ModelConfig) -> str:
    return "StatefulSet" if m.uses_statefulset else "Deployment"


def _steps_for_model(i: int, old: ModelConfig, new: ModelConfig, what: str) -> tuple[str, ...]:
    return (
        f"first remove models[{i}] ({old.name}) and run `pulumi up` (its registry entry is "
        "retired; the model is down until the second update)",
        f"then add it back {what} and run `pulumi up`",
    )


def _peak_in_namespace(old: StackConfig, new: StackConfig) -> tuple[int, int]:
    """GPUs this namespace requests at the update's peak, and what its quota holds meanwhile.

    Every old workload keeps its pods until the end (removed and renamed models, and a
    switched model's old kind, included); each model kept under its name and kind needs the
    larger of its two sizes, plus its surge when it changes. The quota is the smaller of the
    two budgets: nothing orders the ResourceQuota's update before the workloads'. A workload
    named for its revision (keepPrevious) that changes is a new one; a revision the old config
    kept runs until the end too."""
    kept = {m.name: m for m in old.models}
    peak = _gpus(list(old.models)) + _surge(old, new)
    peak += sum(kept_gpus(m) for m in old.models if m.rollout.previous is not None)
    for m in new.models:
        was = kept.get(m.name)
        if was is None or was.uses_statefulset != m.uses_statefulset or renames_workload(was, m):
            peak += m.gpus_total
        else:
            peak += max(0, m.gpus_total - was.gpus_total)
    return peak, min(old.gpu_budget_resolved, new.gpu_budget_resolved)


def _model_findings(old: StackConfig, new: StackConfig) -> list[CreateFirstFinding]:
    peak, quota = _peak_in_namespace(old, new)
    refused = peak > quota
    verdict = (
        f"this namespace requests {peak} GPUs at the update's peak and its quota holds {quota}"
        + (
            ": refused, the new pods would stay Pending until the await times out"
            if refused
            else ""
        )
    )
    before = {m.name: (i, m) for i, m in enumerate(old.models)}
    gone = [m for m in old.models if m.name not in {n.name for n in new.models}]
    out: list[CreateFirstFinding] = []
    for i, m in enumerate(new.models):
        if not m.gpus_total:
            continue
        if m.name not in before:
            was = f" (replacing {', '.join(g.name for g in gone)})" if gone else ""
            steps = _steps_for_model(i, gone[0], m, f"as {m.name}") if refused and gone else ()
            message = (
                f"{m.name} is new{was}: its {_kind(m)} ({m.replicas} x {m.gpus_per_replica} GPUs) "
                "is created while every removed model keeps its pods until the update ends; "
                f"needs {_plural(m.gpus_total)}; {verdict}"
            )
            out.append(
                CreateFirstFinding(f"models[{i}].name", message, m.gpus_total, refused, steps)
            )
            continue
        j, was_model = before[m.name]
        if was_model.uses_statefulset == m.uses_statefulset:
            continue
        steps = (
            _steps_for_model(j, was_model, m, f"with weightCache.mode: {m.weight_cache.mode}")
            if refused
            else ()
        )
        message = (
            f"{was_model.weight_cache.mode} -> {m.weight_cache.mode}: the {_kind(m)} is created "
            f"before the {_kind(was_model)} is deleted (another kind, another resource); needs "
            f"{_plural(m.gpus_total)}; {verdict}"
        )
        out.append(
            CreateFirstFinding(
                f"models[{i}].weightCache.mode", message, m.gpus_total, refused, steps
            )
        )
    return out


def _namespace_finding(old: StackConfig, new: StackConfig) -> list[CreateFirstFinding]:
    if old.namespace_name == new.namespace_name:
        return []
    both = _gpus(list(old.models)) + _gpus(list(new.models))
    gpu_pool = new.cluster.gpu_pool
    pool = (gpu_pool.max_gpus if gpu_pool is not None else 0) - new.other_namespaces_gpus
    refused = both > pool
    message = (
        f"{old.namespace_name} -> {new.namespace_name}: every object is created in the new "
        "namespace (its own quota) before the old namespace is deleted; the GPU pool holds "
        f"{pool} GPUs beside the other namespaces and both would request {both}"
        + (": refused" if refused else "")
    )
    steps = (
        (
            "first lower the models' replicas (or remove models) until both fit and run "
            "`pulumi up`",
            "then change the namespace and run `pulumi up`, and restore them",
        )
        if refused
        else ()
    )
    return [CreateFirstFinding("namespace", message, _gpus(list(new.models)), refused, steps)]


def create_first_findings(old: StackConfig, new: StackConfig) -> list[CreateFirstFinding]:
    """Every create-before-delete change from ``old`` to ``new`` (both validated), with the
    spare GPUs it needs and whether the quota (or, for a new namespace, the pool) holds them."""
    return _namespace_finding(old, new) + _model_findings(old, new)


def create_first_line(cfg: StackConfig, i: int) -> str:
    """What a new name, or a switch of the workload's kind (``weightCache.mode``), of
    ``cfg.models[i]`` would need, and how to do it when the quota cannot hold both."""
    m = cfg.models[i]
    mode = "shared" if m.uses_statefulset else "per-replica"
    switched = m.model_copy(
        update={"weight_cache": m.weight_cache.model_copy(update={"mode": mode})}
    )
    head = (
        f"models[{i}].name={m.name}, models[{i}].weightCache.mode={m.weight_cache.mode}: a new "
        f"name replaces every object of the model (new resources, new registry entry), and mode "
        f"{mode} replaces the {_kind(m)} by a {_kind(switched)}; both create the new workload "
        "before the old one is deleted at the end of the update"
    )
    if not m.gpus_total:
        return head
    models = [*cfg.models[:i], switched, *cfg.models[i + 1 :]]
    [finding] = _model_findings(cfg, cfg.model_copy(update={"models": models}))
    head += f": needs {_plural(finding.spare_gpus)} meanwhile; "
    if not finding.refused:
        return head + "the quota holds both"
    return head + (
        f"the quota ({cfg.gpu_budget_resolved} GPUs, the models use {_gpus(list(cfg.models))}) "
        f"cannot hold both, so do it in two updates: remove models[{i}] and `pulumi up` (the "
        "model is down, its registry entry retired), then add it back renamed or switched and "
        "`pulumi up`"
    )
