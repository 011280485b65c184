"""Two stacks, one registry database: what each registers must not collide.

pulumi-postgresql's Role create is a plain CREATE ROLE and its delete drops the role
(docs/provider-semantics.md), and roles are server-wide: two stacks registering a Role of the
same name on one server would fail the second ``up`` and let one ``destroy`` break the other.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from tests.support.harness import ProgramRun, run_program

pytestmark = pytest.mark.program

SHARED = {
    "host": "registry-db.internal.example.com",
    "port": 5432,
    "database": "model_registry",
    "user": "registry_owner",
    "sslmode": "require",
}


def _roles(run: ProgramRun) -> set[str]:
    return {str(r.inputs["name"]) for r in run.by_type("postgresql:index/role:Role")}


def _reporter_user(run: ProgramRun) -> str:
    (cron,) = [r for r in run.kubernetes() if r.inputs.get("kind") == "CronJob"]
    pod: Any = cron.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for c in pod["containers"] for e in c.get("env", [])}
    return str(env["PGUSER"])


def test_two_stacks_on_one_registry_database_register_disjoint_roles() -> None:
    runs = {s: run_program(s, overrides={"registry": SHARED}) for s in ("development", "staging")}
    dev, stg = _roles(runs["development"]), _roles(runs["staging"])
    assert len(dev) == len(stg) == 2
    assert not dev & stg
    for stack, run in runs.items():
        # Each stack's writer is the role its own health reporter connects as.
        assert _reporter_user(run) == f"vllm_registry_writer_{stack}"
        assert _reporter_user(run) in _roles(run)


def test_a_stack_cannot_be_configured_onto_another_stacks_roles() -> None:
    taken = {**SHARED, "writerRole": "vllm_registry_writer_development"}
    with pytest.raises(pulumi.RunError) as info:
        run_program("staging", overrides={"registry": taken})
    message = str(info.value)
    assert "registry.writerRole: 'vllm_registry_writer_development' names the" in message
