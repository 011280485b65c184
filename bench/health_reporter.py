"""Health reporter at scale: the real reporter.sh (sh, curl, psql) against fake endpoints.

Usage: ``.venv/bin/python bench/health_reporter.py [--server DSN] [--models 10,100]
[--timeout 3] [--runs 1]``

Per N: a throwaway database with N registered models, N fake ``/health`` endpoints on
127.0.0.1, and ``sh reporter.sh run`` exactly as the staging CronJob's containers would run it;
the method and the figures: docs/benchmarks.md, "Health reporter at scale".
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg import conninfo  # noqa: E402

from components.config.source import load_from_stack_file  # noqa: E402
from components.manifests.health_reporter import (  # noqa: E402
    PROBE_PARALLELISM,
    health_reporter_objects,
)
from components.registry.migrate import migrate  # noqa: E402
from tests.integration.conftest import database  # noqa: E402
from tests.support.stackfiles import with_reporter  # noqa: E402

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
ENV = "staging"
RUN_LIMIT_SECONDS = 120


def kind_of(i: int) -> str:
    """75 % healthy, 10 % failing (503), 10 % hanging, 5 % refused, spread over the list."""
    slot = i % 20
    if slot in (3, 13):
        return "failing"
    if slot in (7, 17):
        return "hanging"
    if slot == 10:
        return "refused"
    return "healthy"


@contextmanager
def fake_endpoints(hang_seconds: float) -> Iterator[int]:
    """An HTTP server on 127.0.0.1: /healthy/* 200, /failing/* 503, /hanging/* late 200."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            kind = self.path.strip("/").split("/")[0]
            if kind == "hanging":
                time.sleep(hang_seconds)
            code = 503 if kind == "failing" else 200
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 256  # the default backlog (5) drops SYNs of parallel probes

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(dsn: str, names: list[str]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in names:
            conn.execute(
                """INSERT INTO model_registry_entries (
                       model_name, environment, endpoint_url, health_status, routing_enabled,
                       namespace, deployment_name, image, hf_model_id, model_revision,
                       max_model_len, gpu_type, gpus_per_replica, replicas, stack, owner_stack)
                   VALUES (%s, %s, %s, 'healthy', true, 'vllm-staging', %s,
                           'vllm/vllm-openai:v0.11.0', 'org/model', 'main', 8192,
                           'NVIDIA RTX 4000 Ada', 1, 1, 'staging', 'vllm-platform/staging')""",
                (name, ENV, f"http://{name}.vllm-staging.svc.cluster.local:8000/v1", name),
            )


def rendered_reporter(timeout: int) -> tuple[dict[str, str], dict[str, str]]:
    """The staging stack's rendered reporter: its ConfigMap's files (as mounted) and the env of
    its CronJob's containers."""
    cfg = with_reporter(
        load_from_stack_file(ROOT / f"Pulumi.{ENV}.yaml").config,
        timeout_seconds=timeout,
        failure_threshold=3,
        unhealthy_disables_routing=True,
    )
    objs = health_reporter_objects(cfg, writer_password="unused-with-trust-auth")
    cm = next(o for o in objs if o["kind"] == "ConfigMap")
    cron = next(o for o in objs if o["kind"] == "CronJob")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    env: dict[str, str] = {}
    for container in [*pod["initContainers"], *pod["containers"]]:
        env.update({e["name"]: e["value"] for e in container["env"]})
    return dict(cm["data"]), env


def write_config(config: Path, files: dict[str, str], names: list[str], port: int) -> None:
    """The ConfigMap's files, and a models list pointing at the fake endpoints."""
    refused = closed_port()
    for key, text in files.items():
        if key != "models":
            (config / key).write_text(text)
    lines = []
    for i, name in enumerate(names):
        kind = kind_of(i)
        url_port = refused if kind == "refused" else port
        lines.append(f"{name} http://127.0.0.1:{url_port}/{kind}/{name}/health\n")
    (config / "models").write_text("".join(lines))


def local_env(rendered: dict[str, str], dsn: str, work: Path) -> dict[str, str]:
    """The rendered env with only paths and libpq's target (the throwaway database) changed."""
    params = conninfo.conninfo_to_dict(dsn)
    env = dict(rendered)
    env.pop("PGSSLROOTCERT", None)
    env.update(
        PATH=os.environ.get("PATH", "/usr/bin:/bin"),
        HOME=str(work),
        HR_CONFIG_DIR=str(work / "config"),
        HR_RESULTS_DIR=str(work / "results"),
        HR_PASSWORD_FILE=str(work / "password"),
        PGHOST=str(params.get("host", "127.0.0.1")),
        PGPORT=str(params.get("port", "5432")),
        PGDATABASE=str(params["dbname"]),
        PGUSER=str(params.get("user", "postgres")),
        PGSSLMODE="disable",
    )
    return env


def registry_after(dsn: str) -> dict[str, object]:
    """The oldest check's age, the rows never checked and the rows with failing probes."""
    with psycopg.connect(dsn) as conn:
        oldest, unchecked = conn.execute(
            "SELECT extract(epoch FROM max(now() - last_health_check_at)), "
            "count(*) FILTER (WHERE last_health_check_at IS NULL) FROM model_registry_entries"
        ).fetchone() or (None, None)
        failures = conn.execute(
            "SELECT count(*) FROM model_registry_entries WHERE consecutive_failures > 0"
        ).fetchone()
    return {
        "oldest_check_age": float(oldest) if oldest is not None else float("nan"),
        "unchecked": int(str(unchecked)),
        "failing_probes": int(str(failures[0])) if failures else 0,
    }


def run_once(dsn: str, count: int, timeout: int, work: Path) -> dict[str, object]:
    names = [f"model-{i:03d}" for i in range(count)]
    seed(dsn, names)
    files, rendered_env = rendered_reporter(timeout)
    with fake_endpoints(hang_seconds=timeout + 1) as port:
        config, results = work / "config", work / "results"
        for d in (config, results):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True)
        write_config(config, files, names, port)
        (work / "password").write_text("unused-with-trust-auth")
        started = time.monotonic()
        done = subprocess.run(
            ["sh", str(config / "reporter.sh"), "run"],
            env=local_env(rendered_env, dsn, work),
            capture_output=True,
            text=True,
            timeout=RUN_LIMIT_SECONDS,
            check=False,
        )
        elapsed = time.monotonic() - started
    return {
        "models": count,
        "exit": done.returncode,
        "seconds": elapsed,
        **registry_after(dsn),
        "stderr": done.stderr.strip(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL superuser DSN")
    parser.add_argument("--models", default="10,100", help="comma-separated model counts")
    parser.add_argument("--timeout", type=int, default=3, help="probe timeout (seconds)")
    parser.add_argument("--runs", type=int, default=1, help="runs per count")
    args = parser.parse_args(argv)
    for tool in ("sh", "curl", "psql"):
        if shutil.which(tool) is None:
            print(f"error: {tool} is not installed (apt-get install curl postgresql-client)")
            return 2
    counts = [int(c) for c in args.models.split(",") if c.strip()]
    print(
        f"probe timeout {args.timeout}s, {PROBE_PARALLELISM} probes in flight, "
        "75% healthy / 10% 503 / 10% hanging / 5% refused"
    )
    print(f"{'models':>6}  {'run s':>6}  {'oldest check s':>14}  {'unchecked':>9}  exit")
    worst = 0
    for count in counts:
        for _ in range(args.runs):
            with (
                database(args.server) as dsn,
                tempfile.TemporaryDirectory(prefix="hr-bench-") as tmp,
            ):
                migrate(dsn)
                r = run_once(dsn, count, args.timeout, Path(tmp))
            print(
                f"{r['models']:>6}  {r['seconds']:>6.2f}  {r['oldest_check_age']:>14.2f}  "
                f"{r['unchecked']:>9}  {r['exit']}"
            )
            if r["exit"] != 0:
                print(f"  reporter stderr: {r['stderr']}")
                worst = 1
    return worst


if __name__ == "__main__":
    sys.exit(main())
