"""Rollout states of a registry entry: started before an update touches the pods, settled by the
entry's registration once the update's smoke test passed, failed on request or by the deadline
rule. The rules are SQL functions (migration 0006); docs/registry-contract.md says what each means.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.registry.calls import call_function
from components.registry.rows import Conn, Outcome
from components.registry.store import list_entries, stack_name_of


@dataclass(frozen=True, slots=True)
class RolloutTarget:
    """What an update is about to serve, and the smoke Job that must pass for it."""

    image: str
    revision: str
    smoke_job: str
    deadline_seconds: int
    """From the start of the rollout until its Pulumi timeouts (workload, smoke Job) ran out."""


def begin_rollout(
    conn: Conn,
    environment: str,
    model_name: str,
    target: RolloutTarget,
    *,
    owner: str | None,
    stack: str | None,
    note: str | None = None,
) -> Outcome | None:
    """Mark the row ``rolling_out`` towards ``target`` before the update changes any pod.

    None when there is no row (a first deploy: nothing is routed until the entry is created
    after the smoke test). Nothing is written for a retired row (not routed; a reactivation is
    registered after its smoke test) or when ``target.smoke_job`` is already the recorded
    evidence of a row outside a rollout (nothing untested will serve), nor when a row without
    recorded evidence (written before migration 0005) already serves the target's image and
    revision: a ``healthy`` one records ``target.smoke_job`` as its evidence (event ``updated``,
    outcome action ``updated``), another keeps its state. Only the owner may start
    a rollout (``OwnershipError``), checked before any pod changes.
    """
    if target.deadline_seconds < 1:
        raise ValueError("deadline_seconds must be positive")
    params: dict[str, object] = {
        "environment": environment,
        "model_name": model_name,
        "image": target.image,
        "revision": target.revision,
        "smoke_job": target.smoke_job,
        "deadline_seconds": target.deadline_seconds,
        "owner": owner,
        "stack": stack,
        "note": note,
    }
    return call_function(conn, "begin_rollout", environment, model_name, params)


def fail_rollout(
    conn: Conn,
    environment: str,
    model_name: str,
    *,
    owner: str | None,
    stack: str | None,
    note: str,
) -> Outcome | None:
    """Declare the row's rollout failed now (e.g. `ops deploy` after a failed update).

    None when there is no row; no event when the row is not ``rolling_out``.
    """
    params = {"environment": environment, "model_name": model_name, "owner": owner}
    return call_function(
        conn, "fail_rollout", environment, model_name, {**params, "stack": stack, "note": note}
    )


def fail_rollouts(conn: Conn, owner: str, *, note: str) -> list[str]:
    """Declare every rollout of stack ``owner`` failed (its `pulumi up` failed): the
    ``environment/model`` of each row marked ``rollout_failed``, LoRA adapters' rows included
    (a model's rows first: failing one fails its adapters' rows with it, migration 0008)."""
    stack = stack_name_of(owner)
    rolling = [
        row
        for row in list_entries(conn)
        if (row.owner_stack == owner or (row.owner_stack is None and row.stack == stack))
        and row.health_status == "rolling_out"
        and row.model_name
    ]
    for row in sorted(rolling, key=lambda r: r.base_model_name is not None):
        fail_rollout(
            conn, str(row.environment), str(row.model_name), owner=owner, stack=stack, note=note
        )
    failed = {
        (row.environment, row.model_name)
        for row in list_entries(conn)
        if row.health_status == "rollout_failed"
    }
    return [
        f"{r.environment}/{r.model_name}"
        for r in rolling
        if (r.environment, r.model_name) in failed
    ]


def expire_rollouts(conn: Conn, environment: str | None = None) -> int:
    """Apply the deadline rule (migration 0005) to every row, or one environment's; the number
    of rows it marked ``rollout_failed``."""
    with conn.transaction():
        found = conn.execute(
            "SELECT vllm_platform_registry_expire_rollouts(%s)", (environment,)
        ).fetchone()
    return int(found[0]) if found is not None else 0
