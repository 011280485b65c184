"""The health reporter writes only its own stack's entries: a canary or a copy of a stack in the
same environment (whose RegistryEntry create is refused) still gets a reporter CronJob, which
probes its own pods; it must never mark the owner's entry unhealthy or turn its routing off.
The shipped script and SQL as the CronJob runs them, on a real PostgreSQL, as the writer."""

from __future__ import annotations

from dataclasses import replace

import psycopg
import pytest
from psycopg import conninfo

from components.registry.writers import bind_writer
from components.resources.registry_roles import WRITER_GRANTS, grant_statements
from tests.integration.conftest import MakeRole
from tests.integration.reporter_harness import ENV, HEALTHY, OWNER, REVIVED, SICK, Harness

pytestmark = pytest.mark.integration

COPY = "vllm-platform/staging-copy"
ALL_FAILING = {HEALTHY: "503", SICK: "503", REVIVED: "503"}
ROUTING_OFF = {"unhealthy_disables_routing": True}


def _own(h: Harness, *names: str) -> None:
    for name in names:
        h.rows(
            "UPDATE model_registry_entries SET owner_stack = %s "
            "WHERE environment = %s AND model_name = %s RETURNING id",
            OWNER,
            ENV,
            name,
        )


def _copy_writer(h: Harness, make_role: MakeRole) -> Harness:
    """The copy stack's reporter: its own writer role, bound to the copy (as RegistryRoles)."""
    role, dsn = make_role("copy_writer")
    database = str(conninfo.conninfo_to_dict(h.dsn)["dbname"])
    with psycopg.connect(h.dsn, autocommit=True) as conn:
        for spec in WRITER_GRANTS:
            for statement in grant_statements(spec, role, database):
                conn.execute(statement)
        bind_writer(conn, role, ENV, COPY)
    return replace(h, writer=dsn)


def test_another_stacks_reporter_leaves_the_owners_entries_alone(
    h: Harness, make_role: MakeRole
) -> None:
    _own(h, HEALTHY, SICK)  # REVIVED stays a pre-ownership row of stack "staging"
    before = {n: h.entry(n) for n in ALL_FAILING}

    copy = _copy_writer(h, make_role).run(ALL_FAILING, ROUTING_OFF, owner=COPY)

    assert copy.returncode == 0, copy.stdout + copy.stderr
    assert f"{SICK}: unhealthy (/health answered HTTP 503); no active registry entry" in copy.stdout
    assert {n: h.entry(n) for n in ALL_FAILING} == before  # not even last_health_check_at
    assert h.event_count() == 0

    owner = h.run(ALL_FAILING, ROUTING_OFF, owner=OWNER)

    assert owner.returncode == 0, owner.stdout + owner.stderr
    for name in ALL_FAILING:  # its own rows, and the legacy row its stack would claim
        assert h.entry(name)[:2] == ("unhealthy", False), name


def test_the_reporter_refuses_to_run_without_a_well_formed_owner(h: Harness) -> None:
    for bad in ("", "no-slash", "a/b'; DROP TABLE model_registry_entries; --", "/stack"):
        result = h.run(ALL_FAILING, extra_env={"HR_OWNER": bad})
        assert result.returncode == 1, bad
        assert "HR_OWNER must be <project>/<stack>" in result.stderr
    assert h.event_count() == 0


def test_a_writer_claiming_another_stack_is_refused_by_postgresql(h: Harness) -> None:
    _own(h, HEALTHY, SICK)
    before = {n: h.entry(n) for n in ALL_FAILING}

    # The owner's writer role, but HR_OWNER names the copy: the role's binding decides.
    claimed = h.run(ALL_FAILING, ROUTING_OFF, owner=COPY)

    assert claimed.returncode == 1
    assert f"writes for stack {OWNER}, not {COPY}" in claimed.stderr
    assert "NOT recorded" in claimed.stdout
    assert {n: h.entry(n) for n in ALL_FAILING} == before
    assert h.event_count() == 0
