"""The health reporter's real script and SQL against a real PostgreSQL, as the writer role.

What runs is exactly what the ConfigMap ships (``reporter.sh``, ``report.sql``, ``models``) with
the environment the CronJob's containers get, except: libpq points at the test database, the
paths are temporary directories, and ``curl`` is a stub on PATH that answers canned results
(200, 503, or curl's timeout exit 28) per URL. ``psql`` is the real client, so the script's
``-v name=... :'name'`` quoting is what is tested.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import conninfo

from components.config import StackConfig
from components.config_source import load_from_stack_file
from components.health_reporter.manifests import (
    HealthReporterSettings,
    health_reporter_objects,
    health_url,
)
from components.registry.migrate import migrate
from components.registry.roles import WRITER_GRANTS, grant_statements

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ENV = "staging"
HEALTHY = "alpha"
SICK = "beta"
SLOW = "gamma"
RETIRED = "old-model"
DEPLOYING = "new-model"
UNREGISTERED = "not-registered"
REVIVED = "revived"
ALL_MODELS = (HEALTHY, SICK, SLOW, RETIRED, DEPLOYING, UNREGISTERED, REVIVED)
PASSWORD_SENTINEL = f"pw-{uuid.uuid4().hex}"
FAKE_CURL = r"""#!/bin/sh
# Test stub for curl: the URL is the last argument; answers come from $FAKE_CURL_TABLE, lines
# "<url> <http code> <exit code>" (an unknown URL behaves like a refused connection).
for arg; do url=$arg; done
printf '%s\n' "$*" >>"$FAKE_CURL_LOG"
while read -r u code rc; do
    if [ "$u" = "$url" ]; then
        printf '%s' "$code"
        exit "$rc"
    fi
done <"$FAKE_CURL_TABLE"
printf '000'
exit 7
"""
ANSWERS = {"ok": ("200", 0), "503": ("503", 0), "timeout": ("000", 28)}
FIRST = {
    HEALTHY: "ok",
    SICK: "503",
    SLOW: "timeout",
    RETIRED: "ok",
    DEPLOYING: "503",
    UNREGISTERED: "ok",
    REVIVED: "ok",
}


def _config() -> StackConfig:
    base = load_from_stack_file(ROOT / "Pulumi.staging.yaml").config
    template = base.models[0]
    models = [template.model_copy(update={"name": n}) for n in ALL_MODELS]
    return base.model_copy(update={"models": models})


def _shell_command(shell: str) -> list[str]:
    return ["busybox", "sh"] if shell == "busybox" else [shell]


@dataclass
class Harness:
    cfg: StackConfig
    dsn: str
    """Superuser DSN of the test database (for setup and checks)."""
    writer: str
    """DSN of a LOGIN role holding exactly the writer role's grants."""
    tmp: Path

    def rows(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn) as conn:
            return conn.execute(query.encode(), params).fetchall()

    def entry(self, name: str) -> tuple[Any, ...]:
        """(health_status, routing_enabled, last_health_check_at, updated_at) of ENV/name."""
        found = self.rows(
            "SELECT health_status, routing_enabled, last_health_check_at, updated_at "
            "FROM model_registry_entries WHERE environment = %s AND model_name = %s",
            ENV,
            name,
        )
        assert len(found) == 1
        return found[0]

    def events(self, name: str) -> list[tuple[Any, ...]]:
        return self.rows(
            "SELECT ev.action, ev.old_values, ev.new_values, ev.note, ev.stack "
            "FROM model_registry_events ev JOIN model_registry_entries e ON e.id = ev.entry_id "
            "WHERE e.environment = %s AND e.model_name = %s ORDER BY ev.id",
            ENV,
            name,
        )

    def event_count(self) -> int:
        return int(self.rows("SELECT count(*) FROM model_registry_events")[0][0])

    def run(
        self,
        answers: dict[str, str],
        settings: HealthReporterSettings | None = None,
        *,
        shell: str = "sh",
        extra_env: dict[str, str] | None = None,
        extra_models: str = "",
    ) -> subprocess.CompletedProcess[str]:
        """Render the objects, lay the ConfigMap out as mounted, run ``reporter.sh run``."""
        # failure_threshold 1 unless told: these tests are about one observation's effect.
        objs = health_reporter_objects(
            self.cfg,
            settings or HealthReporterSettings(failure_threshold=1),
            writer_password=PASSWORD_SENTINEL,
        )
        cm = next(o for o in objs if o["kind"] == "ConfigMap")
        cron = next(o for o in objs if o["kind"] == "CronJob")
        pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        config_dir, results_dir = self.tmp / "config", self.tmp / "results"
        shutil.rmtree(config_dir, ignore_errors=True)
        config_dir.mkdir()
        results_dir.mkdir(exist_ok=True)
        for key, text in cm["data"].items():
            (config_dir / key).write_text(text + (extra_models if key == "models" else ""))
        password_file = self.tmp / "password"
        password_file.write_text(PASSWORD_SENTINEL)
        table = self.tmp / "curl-table"
        table.write_text(
            "".join(
                f"{health_url(self.cfg, name)} {ANSWERS[a][0]} {ANSWERS[a][1]}\n"
                for name, a in answers.items()
            )
        )
        env: dict[str, str] = {}
        for container in [*pod["initContainers"], *pod["containers"]]:
            env.update({e["name"]: e["value"] for e in container["env"]})
        params = conninfo.conninfo_to_dict(self.writer)
        env.pop("PGSSLROOTCERT", None)
        env.update(
            HR_CONFIG_DIR=str(config_dir),
            HR_RESULTS_DIR=str(results_dir),
            HR_PASSWORD_FILE=str(password_file),
            HOME=str(self.tmp),
            PGHOST=str(params.get("host", "127.0.0.1")),
            PGPORT=str(params.get("port", "5432")),
            PGDATABASE=str(params["dbname"]),
            PGUSER=str(params["user"]),
            PGSSLMODE="disable",
            PATH=f"{self.tmp / 'bin'}{os.pathsep}{os.environ['PATH']}",
            FAKE_CURL_TABLE=str(table),
            FAKE_CURL_LOG=str(self.tmp / "curl.log"),
        )
        env.update(extra_env or {})
        return subprocess.run(
            [*_shell_command(shell), str(config_dir / "reporter.sh"), "run"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def psql(self, **variables: str) -> subprocess.CompletedProcess[str]:
        """Run the shipped report.sql directly with psql variables (as the writer)."""
        variables = {"threshold": "1", **variables}
        objs = health_reporter_objects(self.cfg, HealthReporterSettings())
        sql_file = self.tmp / "direct-report.sql"
        sql_file.write_text(next(o for o in objs if o["kind"] == "ConfigMap")["data"]["report.sql"])
        args = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.writer]
        for key, value in variables.items():
            args += ["-v", f"{key}={value}"]
        return subprocess.run(
            [*args, "-f", str(sql_file)], capture_output=True, text=True, check=False, timeout=30
        )


def _insert(conn: psycopg.Connection[Any], name: str, health: str, routing: bool) -> None:
    conn.execute(
        """INSERT INTO model_registry_entries (
               model_name, environment, endpoint_url, health_status, routing_enabled, namespace,
               deployment_name, image, hf_model_id, model_revision, max_model_len, gpu_type,
               gpus_per_replica, replicas, stack, retired_at)
           VALUES (%s, %s, %s, %s, %s, 'vllm-staging', %s, 'vllm/vllm-openai:v0.11.0',
                   'org/model', 'main', 8192, 'NVIDIA RTX 4000 Ada', 1, 1, 'staging',
                   CASE WHEN %s THEN now() END)""",
        (
            name,
            ENV,
            f"http://{name}.vllm-staging.svc.cluster.local:8000/v1",
            health,
            routing,
            name,
            health == "retired",
        ),
    )


@pytest.fixture
def h(db: str, make_role: Callable[[str], tuple[str, str]], tmp_path: Path) -> Harness:
    migrate(db)
    role, writer_dsn = make_role("hr_writer")
    database = str(conninfo.conninfo_to_dict(db)["dbname"])
    with psycopg.connect(db, autocommit=True) as conn:
        for spec in WRITER_GRANTS:
            for statement in grant_statements(spec, role, database):
                conn.execute(statement)
        _insert(conn, HEALTHY, "healthy", True)
        _insert(conn, SICK, "healthy", True)
        _insert(conn, SLOW, "healthy", True)
        _insert(conn, RETIRED, "retired", False)
        _insert(conn, DEPLOYING, "deploying", False)
        _insert(conn, REVIVED, "unknown", False)
        # Another environment's row of the same name must never be touched.
        conn.execute(
            "INSERT INTO model_registry_entries (model_name, environment, health_status, "
            "routing_enabled) VALUES (%s, 'production', 'healthy', true)",
            (SICK,),
        )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    curl = bin_dir / "curl"
    curl.write_text(FAKE_CURL)
    curl.chmod(curl.stat().st_mode | stat.S_IXUSR)
    return Harness(cfg=_config(), dsn=db, writer=writer_dsn, tmp=tmp_path)


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

    # Unknown becomes healthy, but routing stays off: the reporter never turns routing on.
    assert h.entry(REVIVED)[:2] == ("healthy", False)
    [(_, old, new, _, _)] = h.events(REVIVED)
    assert (old, new) == ({"health_status": "unknown"}, {"health_status": "healthy"})

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


def test_with_the_flag_an_unhealthy_model_is_taken_out_of_routing(h: Harness) -> None:
    settings = HealthReporterSettings(unhealthy_disables_routing=True, failure_threshold=1)
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
    settings = HealthReporterSettings(unhealthy_disables_routing=True)  # threshold 3 (default)
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
