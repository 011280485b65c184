"""``RegistryPrevious``'s provider: names the kept revision (``models[].rollout.previous``) the
row's rollback target for the rest of its window, once the row serves the new revision; delete
clears the target (its replicas are going). The rules are migration 0007's functions, called
through ``registry/previous.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from pulumi.dynamic import CreateResult, DiffResult, ReadResult, UpdateResult

from components.registry import previous
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

PREVIOUS_INPUTS: Final[tuple[str, ...]] = (
    CONNECTION,
    "environment",
    "model_name",
    OWNER,
    "stack",
    "image",
    "revision",
    "smoke_job",
    "deployment_name",
    "until",
)
PREVIOUS_ACTION: Final = "registry_action"
"""Output: ``previous_kept`` when the last create/update named the target, else None."""
_MAX_MINUTES: Final = 24 * 60


def window_minutes(until: str, now: datetime | None = None) -> int:
    """The minutes left until ``until`` (RFC 3339), rounded up, within 0..1440."""
    left = (datetime.fromisoformat(until) - (now or datetime.now(UTC))).total_seconds()
    return max(0, min(_MAX_MINUTES, math.ceil(left / 60)))


def diff_previous(olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffResult:
    """Update when any input changed; replace when the natural key changed."""
    replaces = [k for k in KEY_FIELDS if differs(olds.get(k), news.get(k))]
    changed = [k for k in PREVIOUS_INPUTS if differs(olds.get(k), news.get(k))]
    return DiffResult(changes=bool(changed), replaces=replaces, stables=[])


class RegistryPreviousProvider(RegistryProvider):
    """Keeps (create, update) and drops (delete) a row's rollback target."""

    def _keep(self, p: dict[str, Any]) -> dict[str, Any]:
        outs: dict[str, Any] = {k: p.get(k) for k in PREVIOUS_INPUTS}
        outs[PREVIOUS_ACTION] = None
        minutes = window_minutes(str(p["until"]))
        if minutes == 0:
            return outs  # the window ended: the next run removes the replicas
        target = previous.PreviousRevision(
            image=str(p["image"]),
            revision=str(p["revision"]),
            smoke_job=str(p["smoke_job"]),
            deployment_name=str(p["deployment_name"]),
        )
        with connect(p[CONNECTION], autocommit=True) as conn:
            outcome = previous.keep_previous(
                conn,
                str(p["environment"]),
                str(p["model_name"]),
                target,
                minutes,
                owner=p[OWNER],
                stack=p.get("stack"),
            )
        outs[PREVIOUS_ACTION] = outcome.action if outcome is not None else None
        return outs

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        return diff_previous(_olds, _news)

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = plain(props)
        return CreateResult(entry_id_of(str(p["environment"]), str(p["model_name"])), self._keep(p))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._keep(plain(_news)))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        p = plain(_props)
        with connect(p[CONNECTION], autocommit=True) as conn:
            previous.drop_previous(
                conn,
                str(p["environment"]),
                str(p["model_name"]),
                owner=p[OWNER],
                stack=p.get("stack"),
                note=f"{p.get('deployment_name')} ({p.get('image')}) removed",
            )

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, dict(props))
