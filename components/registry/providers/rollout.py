"""``RegistryRollout``'s provider: marks a model's row ``rolling_out`` before its workload changes.

The workload depends on the marker, so the engine applies it first; the model's entry settles
the row after the smoke test (``vllm_platform_registry_register``) and takes ``rollout_id`` as an
input, so a rollback (whose smoke evidence equals the entry's state) still updates the entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pulumi.dynamic import CreateResult, DiffResult, ReadResult, UpdateResult

from components.registry import rollouts
from components.registry.connection import connect
from components.registry.providers.base import (
    CONNECTION,
    OWNER,
    RegistryProvider,
    differs,
    entry_id_of,
    plain,
)
from components.registry.rows import KEY_FIELDS

ROLLOUT_TARGET: Final[tuple[str, ...]] = ("target_image", "target_revision", "target_smoke_job")
ROLLOUT_ID: Final = "rollout_id"
"""Output: changes whenever the marker started a rollout (the entry's ``rollout`` input)."""
_ROLLOUT_INPUTS: Final[tuple[str, ...]] = (
    CONNECTION,
    "environment",
    "model_name",
    OWNER,
    "stack",
    *ROLLOUT_TARGET,
    "deadline_seconds",
    "note",
)


def diff_rollout(olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffResult:
    """Update when the target, the deadline, the owner or the connection changed; replace when
    the natural key changed. Only a changed target starts a rollout (see ``update``)."""
    replaces = [k for k in KEY_FIELDS if differs(olds.get(k), news.get(k))]
    changed = [k for k in _ROLLOUT_INPUTS if k != "note" and differs(olds.get(k), news.get(k))]
    return DiffResult(changes=bool(changed), replaces=replaces, stables=[])


class RegistryRolloutProvider(RegistryProvider):
    """Marks a model's row ``rolling_out`` before its workload changes (``rollouts``).

    Delete does nothing (the entry's delete retires the row).
    """

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        return diff_rollout(_olds, _news)

    def _begin(self, p: dict[str, Any], previous_id: str | None) -> dict[str, Any]:
        target = rollouts.RolloutTarget(
            image=str(p["target_image"]),
            revision=str(p["target_revision"]),
            smoke_job=str(p["target_smoke_job"]),
            deadline_seconds=int(p["deadline_seconds"]),
        )
        with connect(p[CONNECTION], autocommit=True) as conn:
            outcome = rollouts.begin_rollout(
                conn,
                str(p["environment"]),
                str(p["model_name"]),
                target,
                owner=p[OWNER],
                stack=p.get("stack"),
                note=p.get("note"),
            )
        outs = {k: p.get(k) for k in _ROLLOUT_INPUTS}
        row = outcome.entry if outcome is not None else None
        if outcome is not None and outcome.action == "rollout_started" and row is not None:
            started = row.rollout_started_at
            outs[ROLLOUT_ID] = f"{target.smoke_job}@{started.isoformat() if started else ''}"
        else:
            outs[ROLLOUT_ID] = previous_id or target.smoke_job
        outs["health_status"] = row.health_status if row is not None else None
        return outs

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = plain(props)
        outs = self._begin(p, None)
        return CreateResult(entry_id_of(str(p["environment"]), str(p["model_name"])), outs)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        olds, news = plain(_olds), plain(_news)
        if not any(differs(olds.get(k), news.get(k)) for k in ROLLOUT_TARGET):
            # Connection, owner or deadline only: nothing new will serve; write nothing.
            outs = {k: news.get(k) for k in _ROLLOUT_INPUTS}
            outs.update({k: olds.get(k) for k in (ROLLOUT_ID, "health_status")})
            return UpdateResult(outs)
        return UpdateResult(self._begin(news, olds.get(ROLLOUT_ID)))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """The row is the entry's: retiring it is ``RegistryEntryProvider.delete``."""

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, dict(props))
