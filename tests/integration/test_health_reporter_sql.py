"""The health reporter's real script and SQL against a real PostgreSQL, as the writer role.

What runs is exactly what the ConfigMap ships (``reporter.sh``, ``report.sql``, ``models``) with
the environment the CronJob's containers get, except: libpq points at the test database, the
paths are temporary directories, and ``curl`` is a stub on PATH that answers canned results
(200, 503, or curl's timeout exit 28) per URL. ``psql`` is the real client, so the script's
``-v name=... :'name'`` quoting is what is tested.
"""

from __future__ import annotations

import shutil

import psycopg
import pytest

from tests.integration.reporter_harness import (
    ALL_MODELS,
    DEPLOYING,
    ENV,
    FIRST,
    HEALTHY,
    PASSWORD_SENTINEL,
    RETIRED,
    REVIVED,
    SICK,
    SLOW,
    UNREGISTERED,
    Harness,
)

pytestmark = pytest.mark.integration


SHELLS = [s for s in ("sh", "dash", "bash", "busybox") if shutil.which(s)]


@pytest.mark.parametrize("shell", SHELLS)
def test_results_are_recorded_with_one_event_per_status_change(h: Harness, shell: str) -> None:
    before_retired = h.entry(RETIRED)
    before_deploying = h.entry(DEPLOYING)

    result = h.run(FIRST, shell=shell)
    assert result.returncode == 0, result.stdout + result.stderr

    status, routing, checked, _ = h.entry(HEALTHY)
    assert (status, routing) == ("healthy", True)
    assert checked is not None
    assert h.events(HEALTHY) == []  # unchanged status: no event

    status, routing, checked, _ = h.entry(SICK)
    assert (status, routing) == ("unhealthy", True)  # routing left alone by default
    assert checked is not None
    [(action, old, new, note, stack)] = h.events(SICK)
    assert action == "health_changed"
    assert old == {"health_status": "healthy"}
    assert new == {"health_status": "unhealthy"}
    assert note == "health-reporter: /health answered HTTP 503"
    assert stack is None

    assert h.entry(SLOW)[0] == "unhealthy"
    [(_, _, _, note, _)] = h.events(SLOW)
    assert note == "health-reporter: /health did not answer within 3s"

    # Unknown stays unknown (a passing /health is no smoke test), its probe time recorded.
    status, routing, checked, _ = h.entry(REVIVED)
    assert (status, routing) == ("unknown", False) and checked is not None
    assert h.events(REVIVED) == []

    # Retired and deploying rows belong to `pulumi up`: no column changes, no event.
    assert h.entry(RETIRED) == before_retired
    assert h.entry(DEPLOYING) == before_deploying
    assert h.events(RETIRED) == []
    assert h.events(DEPLOYING) == []
    # The production row of the same name belongs to another environment.
    assert h.rows(
        "SELECT health_status, last_health_check_at FROM model_registry_entries "
        "WHERE environment = 'production'"
    ) == [("healthy", None)]

    out = result.stdout
    assert f"{SICK}: unhealthy (/health answered HTTP 503); changed from healthy" in out
    assert f"{UNREGISTERED}: healthy (/health answered HTTP 200); no active registry entry" in out
    assert PASSWORD_SENTINEL not in result.stdout + result.stderr
    calls = (h.tmp / "curl.log").read_text().splitlines()
    assert len(calls) == len(ALL_MODELS)
    assert all("--max-time 3 " in c for c in calls)


def test_repeated_results_refresh_the_check_time_without_new_events(h: Harness) -> None:
    assert h.run(FIRST).returncode == 0
    first_check = h.entry(SICK)[2]
    events = h.event_count()

    again = h.run(FIRST)
    assert again.returncode == 0, again.stdout + again.stderr
    assert h.event_count() == events
    assert h.entry(SICK)[0] == "unhealthy"
    assert h.entry(SICK)[2] > first_check
    assert f"{SICK}: unhealthy (/health answered HTTP 503); unchanged" in again.stdout


def test_a_probe_that_changes_nothing_keeps_updated_at(h: Harness) -> None:
    assert h.run(FIRST).returncode == 0
    status, _, checked, updated = h.entry(SICK)
    assert h.run(FIRST).returncode == 0
    status_again, _, checked_again, updated_again = h.entry(SICK)
    assert (status_again, updated_again) == (status, updated)  # only the probe time moved
    assert checked_again > checked
    with psycopg.connect(h.dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE model_registry_entries SET replicas = replicas + 1 "
            "WHERE environment = %s AND model_name = %s",
            (ENV, SICK),
        )
    assert h.entry(SICK)[3] > updated  # a real change still moves it


def test_a_recovered_model_becomes_healthy_and_routing_is_not_turned_on(h: Harness) -> None:
    with psycopg.connect(h.dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE model_registry_entries SET health_status = 'unhealthy', "
            "routing_enabled = false WHERE environment = %s AND model_name = %s",
            (ENV, SICK),
        )
    result = h.run({**FIRST, SICK: "ok"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert h.entry(SICK)[:2] == ("healthy", False)
    [(_, old, new, _, _)] = h.events(SICK)
    assert (old, new) == ({"health_status": "unhealthy"}, {"health_status": "healthy"})


def test_a_recovered_model_without_smoke_evidence_never_becomes_healthy(h: Harness) -> None:
    with psycopg.connect(h.dsn, autocommit=True) as conn:
        conn.execute(  # unhealthy, and no smoke test recorded for what it serves
            "UPDATE model_registry_entries SET health_status = 'unhealthy', smoke_job = NULL, "
            "consecutive_failures = 5 WHERE environment = %s AND model_name = %s",
            (ENV, SICK),
        )
    result = h.run({**FIRST, SICK: "ok"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert h.entry(SICK)[:2] == ("unknown", True)
    assert h.rows(
        "SELECT consecutive_failures FROM model_registry_entries WHERE model_name = %s "
        "AND environment = %s",
        SICK,
        ENV,
    ) == [(0,)]
    [(_, old, new, _, _)] = h.events(SICK)
    assert (old, new) == ({"health_status": "unhealthy"}, {"health_status": "unknown"})


def test_with_the_flag_an_unhealthy_model_is_taken_out_of_routing(h: Harness) -> None:
    settings = {"unhealthy_disables_routing": True, "failure_threshold": 1}
    result = h.run(FIRST, settings)
    assert result.returncode == 0, result.stdout + result.stderr
    assert h.entry(SICK)[:2] == ("unhealthy", False)
    assert h.entry(SLOW)[:2] == ("unhealthy", False)
    assert h.entry(HEALTHY)[:2] == ("healthy", True)
    [(_, old, new, _, _)] = h.events(SICK)
    assert old == {"health_status": "healthy", "routing_enabled": True}
    assert new == {"health_status": "unhealthy", "routing_enabled": False}
    assert f"{SICK}: unhealthy (/health answered HTTP 503); changed from healthy, routing " in (
        result.stdout
    )

    # Still unhealthy a minute later: no change, no event. Healthy again: routing stays off.
    assert h.run(FIRST, settings).returncode == 0
    assert len(h.events(SICK)) == 1
    assert h.run({**FIRST, SICK: "ok"}, settings).returncode == 0
    assert h.entry(SICK)[:2] == ("healthy", False)
    assert len(h.events(SICK)) == 2


def test_a_database_failure_fails_the_run_without_printing_the_password(h: Harness) -> None:
    result = h.run(FIRST, extra_env={"PGDATABASE": "no_such_database_here"})
    assert result.returncode == 1
    assert "NOT recorded, psql failed" in result.stdout
    assert f"{len(ALL_MODELS)} result(s) could not be recorded" in result.stderr
    assert PASSWORD_SENTINEL not in result.stdout + result.stderr


def test_values_are_quoted_as_literals_not_parsed_as_sql(h: Harness) -> None:
    result = h.psql(
        env=ENV,
        name=f"{SICK}' OR true --",
        status="unhealthy",
        disable_routing="false",
        note="x'); DELETE FROM model_registry_entries; --",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert h.rows(
        "SELECT count(*), count(*) FILTER (WHERE health_status = 'unhealthy') "
        "FROM model_registry_entries"
    ) == [(7, 0)]


def test_a_status_other_than_healthy_or_unhealthy_changes_nothing(h: Harness) -> None:
    for status in ("retired", "deploying", "unknown", "Healthy"):
        result = h.psql(env=ENV, name=HEALTHY, status=status, disable_routing="false", note="x")
        assert result.returncode == 0, result.stderr
        assert result.stdout == ""
    assert h.entry(HEALTHY)[:3] == ("healthy", True, None)
    assert h.event_count() == 0


def test_the_shipped_sql_applies_one_observation_as_the_writer(h: Harness) -> None:
    result = h.psql(env=ENV, name=SICK, status="unhealthy", disable_routing="true", note="n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "changed from healthy, routing turned off, event recorded"
    assert h.entry(SICK)[:2] == ("unhealthy", False)


# ------------------------------------------------------------------ damping, isolation, faults
