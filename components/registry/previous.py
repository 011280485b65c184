"""The rollback target of a registry entry (``models[].rollout.keepPrevious``, #27): after a
rollout the previous revision keeps serving for a window and the row names it; a rollback inside
the window switches the row back in one statement. The rules are SQL functions (migration 0007);
README "Registry states" says what the router sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from components.registry.calls import call_function
from components.registry.rows import Conn, Outcome


@dataclass(frozen=True, slots=True)
class PreviousRevision:
    """What the previous revision served, its passed smoke Job, and its running workload."""

    image: str
    revision: str
    smoke_job: str
    deployment_name: str


def keep_previous(
    conn: Conn,
    environment: str,
    model_name: str,
    previous: PreviousRevision,
    minutes: int,
    *,
    owner: str | None,
    stack: str | None,
    note: str | None = None,
) -> Outcome | None:
    """Name ``previous`` the row's rollback target for ``minutes`` (event ``previous_kept``).

    Nothing is written when the row is not ``healthy`` (its rollout has not passed its smoke
    test) or already serves ``previous``; None when there is no row. Only the owner may
    (``OwnershipError``)."""
    params: dict[str, object] = {
        "environment": environment,
        "model_name": model_name,
        "image": previous.image,
        "revision": previous.revision,
        "smoke_job": previous.smoke_job,
        "deployment_name": previous.deployment_name,
        "minutes": minutes,
        "owner": owner,
        "stack": stack,
        "note": note,
    }
    return call_function(conn, "keep_previous", environment, model_name, params)


def _on_row(
    name: str, conn: Conn, environment: str, model_name: str, **rest: str | None
) -> Outcome | None:
    """``name``'s call for one row with ``owner``, ``stack`` and ``note``."""
    params = {"environment": environment, "model_name": model_name, "owner": rest["owner"]}
    extra = {"stack": rest["stack"], "note": rest["note"]}
    return call_function(conn, name, environment, model_name, {**params, **extra})


def switch_to_previous(
    conn: Conn,
    environment: str,
    model_name: str,
    *,
    owner: str | None,
    stack: str | None,
    note: str | None = None,
) -> Outcome | None:
    """Serve the rollback target again (event ``rolled_back``) if its window runs; the outcome's
    action is None when there is no target or the window ended (the rollback must restart
    pods: ``ops rollback`` restores the config)."""
    return _on_row(
        "switch_to_previous", conn, environment, model_name, owner=owner, stack=stack, note=note
    )


def drop_previous(
    conn: Conn,
    environment: str,
    model_name: str,
    *,
    owner: str | None,
    stack: str | None,
    note: str | None = None,
) -> Outcome | None:
    """Clear the rollback target (its replicas are going); event ``previous_dropped``."""
    return _on_row(
        "drop_previous", conn, environment, model_name, owner=owner, stack=stack, note=note
    )


def expire_previous(conn: Conn, environment: str | None = None) -> int:
    """Clear every rollback target whose window ended (or one environment's); how many."""
    with conn.transaction():
        found = conn.execute(
            "SELECT vllm_platform_registry_expire_previous(%s)", (environment,)
        ).fetchone()
    return int(found[0]) if found is not None else 0


def previous_until(conn: Conn, environment: str, model_name: str) -> datetime | None:
    """The end of the row's window, None when it names no rollback target."""
    found = conn.execute(
        "SELECT previous_until FROM model_registry_entries "
        "WHERE environment = %s AND model_name = %s",
        (environment, model_name),
    ).fetchone()
    return found[0] if found is not None else None
