"""The health reporter harness: the shipped script run as the CronJob runs it, on a real
PostgreSQL, with a fake curl (shared by test_health_reporter_sql.py and _faults.py)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import conninfo

from components.config import StackConfig
from components.config.source import load_from_stack_file
from components.manifests.health_reporter import (
    health_reporter_objects,
    health_url,
)
from components.registry.migrate import migrate
from components.registry.writers import bind_writer
from components.resources.registry_roles import WRITER_GRANTS, grant_statements
from tests.support.stackfiles import ROOT, with_reporter

ENV = "staging"
OWNER = "vllm-platform/staging"
"""The staging stack's reporter (``default_owner`` of the staging config)."""
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
        settings: dict[str, Any] | None = None,
        *,
        shell: str = "sh",
        extra_env: dict[str, str] | None = None,
        extra_models: str = "",
        owner: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Render the objects, lay the ConfigMap out as mounted, run ``reporter.sh run``.
        ``owner``: the stack the program passes (default: the config's ``default_owner``)."""
        env = self._environment(settings, extra_models=extra_models, owner=owner)
        table = self.tmp / "curl-table"
        table.write_text(
            "".join(
                f"{health_url(self.cfg, name)} {ANSWERS[a][0]} {ANSWERS[a][1]}\n"
                for name, a in answers.items()
            )
        )
        env.update(extra_env or {})
        return self._script("run", env, shell)

    def report(
        self, results: bytes, settings: dict[str, Any] | None = None, *, shell: str = "sh"
    ) -> subprocess.CompletedProcess[str]:
        """``reporter.sh report`` of ``results``, byte for byte what the probe step (the curl
        container, which model servers can reach) left in the shared results file."""
        env = self._environment(settings)
        (self.tmp / "results").mkdir(exist_ok=True)
        (self.tmp / "results" / "results").write_bytes(results)
        (self.tmp / "results" / "rejected").write_bytes(b"")
        return self._script("report", env, shell)

    def _environment(
        self,
        settings: dict[str, Any] | None,
        *,
        extra_models: str = "",
        owner: str | None = None,
    ) -> dict[str, str]:
        # failure_threshold 1 unless told: these tests are about one observation's effect.
        objs = health_reporter_objects(
            with_reporter(self.cfg, **({"failure_threshold": 1, **(settings or {})})),
            writer_password=PASSWORD_SENTINEL,
            owner=owner,
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
            FAKE_CURL_TABLE=str(self.tmp / "curl-table"),
            FAKE_CURL_LOG=str(self.tmp / "curl.log"),
        )
        return env

    def _script(
        self, step: str, env: dict[str, str], shell: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_shell_command(shell), str(self.tmp / "config" / "reporter.sh"), step],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def psql(self, **variables: str) -> subprocess.CompletedProcess[str]:
        """Run the shipped report.sql directly with psql as the writer, one observation
        (``name``, ``status``, ``note``) as its COPY data; stdout: what it printed for it."""
        observation = "\t".join(variables.pop(k, "") for k in ("name", "status", "note"))
        return run_report_sql(self.writer, observation, {"owner": OWNER, **variables})


def run_report_sql(
    dsn: str, data: str, variables: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """The shipped report.sql through psql with ``data`` (TSV lines) on its stdin; stdout holds
    the part after ``<name>|`` of each line it printed."""
    from components.manifests.toolkit import read_asset

    settings = {
        "threshold": "1",
        "statement_timeout": "5000",
        "lock_timeout": "2000",
        "disable_routing": "false",
        **variables,
    }
    args = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", dsn]
    for key, value in settings.items():
        args += ["-v", f"{key}={value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
        script.write(read_asset("report.sql"))
        script.flush()
        done = subprocess.run(
            [*args, "-f", script.name],
            input=data + "\n",
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    printed = "".join(line.partition("|")[2] + "\n" for line in done.stdout.splitlines())
    return subprocess.CompletedProcess(done.args, done.returncode, printed.strip("\n"), done.stderr)


def _insert(conn: psycopg.Connection[Any], name: str, health: str, routing: bool) -> None:
    conn.execute(
        """INSERT INTO model_registry_entries (
               model_name, environment, endpoint_url, health_status, routing_enabled, namespace,
               deployment_name, image, hf_model_id, model_revision, max_model_len, gpu_type,
               gpus_per_replica, replicas, stack, retired_at, smoke_job)
           VALUES (%s, %s, %s, %s, %s, 'vllm-staging', %s, 'vllm/vllm-openai:v0.11.0',
                   'org/model', 'main', 8192, 'NVIDIA RTX 4000 Ada', 1, 1, 'staging',
                   CASE WHEN %s THEN now() END, %s)""",
        (
            name,
            ENV,
            f"http://{name}.vllm-staging.svc.cluster.local:8000/v1",
            health,
            routing,
            name,
            health == "retired",
            f"{name}-smoke-0a1b2c3d" if health == "healthy" else None,  # healthy: smoke passed
        ),
    )


def make_harness(db: str, make_role: Callable[[str], tuple[str, str]], tmp_path: Path) -> Harness:
    migrate(db)
    role, writer_dsn = make_role("hr_writer")
    database = str(conninfo.conninfo_to_dict(db)["dbname"])
    with psycopg.connect(db, autocommit=True) as conn:
        for spec in WRITER_GRANTS:
            for statement in grant_statements(spec, role, database):
                conn.execute(statement)
        bind_writer(conn, role, ENV, OWNER)
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
