"""The Pulumi engine's step order for Kubernetes objects, modelled for what cannot run here.

No engine, CLI or cluster runs in this repository, so the order in which one ``pulumi up``
creates, replaces and deletes objects is modelled from the source read for
docs/provider-semantics.md (pulumi/pulumi ``pkg/resource/deploy`` at ``1b5949891b``,
pulumi-kubernetes ``provider/pkg`` at ``94977969``); each rule below names its lines. The
objects come from the program's real registrations (``tests.support.harness``); the cluster is
a dict of live objects whose awaits pass or fail as a test says.

- Registrations are processed in the program's order; an object whose old state is absent is
  created (``Create``: a plain create, ``AlreadyExists`` when the name is taken,
  pulumi-kubernetes ``await.go:165-272``).
- A changed ``metadata.name``/``metadata.namespace`` or a field in ``REPLACE_FIELDS`` replaces
  (``diff.go:23-38``); so does a Job with ``pulumi.com/replaceUnready`` whose live Job did not
  complete (``provider.go:1622-1643``). The provider asks for delete-before-replace only when
  the new name equals the old one (``provider.go:1645-1658``); the ``deleteBeforeReplace``
  resource option overrides it (step_generator.go:2043-2046).
- Delete-before-replace deletes the old object first, then creates (step_generator.go:
  2047-2157; the old state leaves the snapshot once the create ran, snapshot.go:468-471).
  Create-before-delete creates first (step_generator.go:2159-2166) and marks the old state
  pending-delete (``Delete: true``, step.go:468-471), even when the create's await failed: a
  partial failure counts as done for the snapshot (pkg/engine/update.go:1419-1420).
- The first failed step cancels the update (step_executor.go:435-462); pending deletes and
  deletes of objects no longer registered run only in the post-steps of an update whose steps
  all succeeded (deployment_executor.go:328-340, step_generator.go:2370-2440), so a failed
  update leaves its pending deletes in the snapshot and alive in the cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from components.manifests.k8s_semantics import REPLACE_UNREADY_ANNOTATION, replacement_identity
from tests.support.harness import Registered

__all__ = ["Cluster", "Goal", "StateEntry", "UpdateFailedError", "goals_of", "run_update"]


class UpdateFailedError(Exception):
    """The update stopped at a failed step; ``state`` is the snapshot it left."""

    def __init__(self, message: str, state: list[StateEntry]) -> None:
        super().__init__(message)
        self.state = state


@dataclass(frozen=True)
class Goal:
    """One registered Kubernetes object, as the engine and the provider see it."""

    urn: str
    kind: str
    name: str
    namespace: str
    identity: str  # replacement_identity: name, namespace and the kind's replace fields
    delete_before_replace: bool | None  # the resource option; None: the provider decides
    replace_unready: bool


@dataclass
class StateEntry:
    goal: Goal
    failed: bool = False  # created or updated with init errors (its await failed)
    delete: bool = False  # pending delete: the old half of a create-before-delete replacement


@dataclass
class Cluster:
    """Live objects by (kind, namespace, name); ``failing`` names objects whose await fails."""

    live: dict[tuple[str, str, str], str] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)
    log: list[str] = field(default_factory=list)

    def create(self, goal: Goal) -> bool:
        key = (goal.kind, goal.namespace, goal.name)
        if key in self.live:
            raise _StepError(f'{goal.kind} "{goal.name}" already exists')
        self.live[key] = goal.urn
        self.log.append(f"create {goal.kind}/{goal.name}")
        return goal.name not in self.failing

    def delete(self, goal: Goal) -> None:
        self.live.pop((goal.kind, goal.namespace, goal.name), None)
        self.log.append(f"delete {goal.kind}/{goal.name}")

    def names(self, kind: str) -> list[str]:
        return sorted(n for (k, _, n) in self.live if k == kind)


class _StepError(Exception):
    pass


def goals_of(resources: Iterable[Registered]) -> list[Goal]:
    """The Kubernetes objects of a program run, in registration order."""
    out: list[Goal] = []
    for r in resources:
        if not r.typ.startswith("kubernetes:") or not r.custom or "kind" not in r.inputs:
            continue
        kind = str(r.inputs["kind"])
        meta = r.inputs.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        out.append(
            Goal(
                urn=r.urn,
                kind=kind,
                name=str(meta.get("name", "")),
                namespace=str(meta.get("namespace", "")),
                identity=repr(replacement_identity(r.inputs)),
                delete_before_replace=True if r.delete_before_replace else None,
                replace_unready=annotations.get(REPLACE_UNREADY_ANNOTATION) == "true",
            )
        )
    return out


def _replaces(old: StateEntry, new: Goal) -> bool:
    if old.goal.identity != new.identity:
        return True
    return new.replace_unready and new.kind == "Job" and old.failed


def _delete_first(old: StateEntry, new: Goal) -> bool:
    if new.delete_before_replace is not None:
        return new.delete_before_replace
    return (old.goal.name, old.goal.namespace) == (new.name, new.namespace)


def _step(state: list[StateEntry], goal: Goal, cluster: Cluster) -> None:
    """One registration's steps; raises _StepError when a step fails."""
    olds = [e for e in state if e.goal.urn == goal.urn and not e.delete]
    old = olds[0] if olds else None
    if old is not None and not _replaces(old, goal):
        old.goal = goal
        if old.failed:  # an unchanged object with init errors is awaited again (an update)
            old.failed = goal.name in cluster.failing
            if old.failed:
                raise _StepError(f"{goal.kind} {goal.name} failed again")
        return
    if old is not None and _delete_first(old, goal):
        cluster.delete(old.goal)
        state.remove(old)
        old = None
    ok = cluster.create(goal)  # AlreadyExists raises before anything is recorded
    if old is not None:
        old.delete = True
    state.append(StateEntry(goal, failed=not ok))
    if not ok:
        raise _StepError(f"{goal.kind} {goal.name} was created but did not become ready")


def run_update(state: list[StateEntry], goals: list[Goal], cluster: Cluster) -> list[StateEntry]:
    """One ``pulumi up`` of ``goals`` against ``state``: the new snapshot, or UpdateFailedError."""
    snapshot = [replace(e) for e in state]
    for goal in goals:
        try:
            _step(snapshot, goal, cluster)
        except _StepError as exc:
            raise UpdateFailedError(str(exc), snapshot) from None
    registered = {g.urn for g in goals}
    for entry in list(snapshot):
        if entry.delete or entry.goal.urn not in registered:
            cluster.delete(entry.goal)
            snapshot.remove(entry)
    return snapshot
