"""The health reporter under faults and at scale: flap damping, a bad row or line, a hung
database."""

from __future__ import annotations

import shutil
import socket
import time

import psycopg
import pytest

from tests.integration.reporter_harness import (
    ALL_MODELS,
    ENV,
    FIRST,
    HEALTHY,
    REVIVED,
    SICK,
    SLOW,
    Harness,
)

pytestmark = pytest.mark.integration


def _failures(h: Harness, name: str) -> int:
    return int(
        h.rows(
            "SELECT consecutive_failures FROM model_registry_entries "
            "WHERE environment = %s AND model_name = %s",
            ENV,
            name,
        )[0][0]
    )


def test_a_model_is_marked_unhealthy_only_after_the_threshold_of_failures_in_a_row(
    h: Harness,
) -> None:
    settings = {"unhealthy_disables_routing": True, "failure_threshold": 3}  # the default
    first = h.run(FIRST, settings)
    assert first.returncode == 0, first.stdout + first.stderr
    assert h.entry(SICK)[:2] == ("healthy", True) and _failures(h, SICK) == 1
    assert f"{SICK}: unhealthy (/health answered HTTP 503); unchanged, failed probe 1 of 3" in (
        first.stdout
    )
    assert h.events(SICK) == []
    # One dropped probe, then a pass: the count starts over, routing never stopped.
    assert h.run({**FIRST, SICK: "ok"}, settings).returncode == 0
    assert _failures(h, SICK) == 0
    for _ in range(2):
        assert h.run(FIRST, settings).returncode == 0
    assert h.entry(SICK)[:2] == ("healthy", True) and _failures(h, SICK) == 2
    assert h.run(FIRST, settings).returncode == 0
    assert h.entry(SICK)[:2] == ("unhealthy", False) and _failures(h, SICK) == 3
    [(_, old, new, _, _)] = h.events(SICK)
    assert new == {"health_status": "unhealthy", "routing_enabled": False}
    assert old == {"health_status": "healthy", "routing_enabled": True}


def test_a_bad_row_fails_only_its_own_model_in_one_psql_session(h: Harness) -> None:
    with psycopg.connect(h.dsn, autocommit=True) as conn:
        conn.execute(
            """CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN RAISE EXCEPTION 'legacy trigger refuses %', NEW.model_name; END $$"""
        )
        conn.execute(
            f"CREATE TRIGGER boom BEFORE UPDATE ON model_registry_entries FOR EACH ROW "
            f"WHEN (NEW.model_name = '{SICK}') EXECUTE FUNCTION boom()"
        )
    calls = h.tmp / "psql.log"
    wrapper = h.tmp / "bin" / "psql"
    wrapper.write_text(f'#!/bin/sh\necho call >>"{calls}"\nexec {shutil.which("psql")} "$@"\n')
    wrapper.chmod(0o755)

    result = h.run(FIRST)

    assert result.returncode == 1
    assert calls.read_text().splitlines() == ["call"]  # one session for every model
    assert f"{SICK}: unhealthy (/health answered HTTP 503); NOT recorded, psql failed" in (
        result.stdout
    )
    assert "1 result(s) could not be recorded" in result.stderr
    assert "legacy trigger refuses" in result.stderr
    for name in (HEALTHY, SLOW, REVIVED):
        assert h.entry(name)[2] is not None, name  # recorded despite the bad row
    assert h.entry(SLOW)[0] == "unhealthy"
    assert h.entry(SICK)[2] is None


def test_a_bad_line_in_the_models_file_skips_only_that_line(h: Harness) -> None:
    result = h.run(FIRST, extra_models="Bad_Name http://x/health\nlonely\n")
    assert result.returncode == 1
    assert "skipped: bad model name" in result.stdout and "'Bad_Name'" in result.stdout
    assert "skipped: bad line for lonely" in result.stdout
    assert "2 result(s) could not be recorded" in result.stderr
    assert h.entry(SICK)[0] == "unhealthy" and h.entry(HEALTHY)[2] is not None


def test_a_hung_database_costs_one_connect_timeout_per_run_not_one_per_model(
    h: Harness,
) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # accepts connections (kernel backlog) and never answers
    try:
        started = time.monotonic()
        result = h.run(
            FIRST,
            extra_env={
                "PGHOST": "127.0.0.1",
                "PGPORT": str(listener.getsockname()[1]),
                "PGCONNECT_TIMEOUT": "1",
            },
        )
        elapsed = time.monotonic() - started
    finally:
        listener.close()
    assert result.returncode == 1
    assert f"{len(ALL_MODELS)} result(s) could not be recorded" in result.stderr
    # One connection attempt for the whole run (it was one per model: 7 x 1 s).
    assert elapsed < 3.5, elapsed
