"""A real PostgreSQL server for the integration tests, and a throwaway database per test.

The server is, in order: the one at ``$VLLM_PLATFORM_TEST_PG`` (a superuser DSN; default
``postgresql://postgres@127.0.0.1:5432/postgres``); that one after starting the machine's
Debian cluster (``pg_ctlcluster``) when it is down; or a throwaway server initialised in a
temporary directory (pytest-postgresql's executor, or ``initdb``/``pg_ctl`` run as the
``postgres`` OS user when the tests run as root, since both refuse to run as root). Set
``VLLM_PLATFORM_TEST_PG=throwaway`` to always use a throwaway server.

Every test gets its own database (created from ``template0``, dropped with ``FORCE`` after),
so tests are isolated and can run in parallel; roles are cluster-global, so ``make_role``
gives each one a unique name and drops it afterwards.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo, sql

from components.registry.migrate import migrate
from tests.integration.reporter_harness import Harness, make_harness

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
ENV_DSN = "VLLM_PLATFORM_TEST_PG"


def _reachable(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _wait_until_reachable(dsn: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _reachable(dsn):
            return True
        time.sleep(0.2)
    return False


def _start_debian_clusters(dsn: str) -> bool:
    """Start the machine's clusters with pg_ctlcluster (Debian/Ubuntu packaging)."""
    etc = Path("/etc/postgresql")
    if not etc.is_dir() or shutil.which("pg_ctlcluster") is None:
        return False
    for version_dir in sorted(etc.iterdir(), reverse=True):
        if (version_dir / "main").is_dir():
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version_dir.name, "main", "start"],
                capture_output=True,
                check=False,
                timeout=60,
            )
    return _wait_until_reachable(dsn, 15)


def _pg_bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        path = Path(out.stdout.strip())
        if (path / "pg_ctl").exists():
            return path
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    return candidates[0].parent if candidates else None


def _free_port() -> int:
    import port_for

    return int(port_for.select_random())


@contextmanager
def _throwaway_server() -> Iterator[str]:
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server reachable and no pg_ctl installed to start one")
    port = _free_port()
    dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    if os.geteuid() != 0:
        from pytest_postgresql.executors.proc import PostgreSQLExecutor

        with tempfile.TemporaryDirectory(prefix="vllm-platform-pg-") as tmp:
            executor = PostgreSQLExecutor(
                executable=str(bindir / "pg_ctl"),
                host="127.0.0.1",
                port=port,
                datadir=f"{tmp}/data",
                unixsocketdir=tmp,
                logfile=f"{tmp}/postgresql.log",
                startparams="-w",
                dbname="postgres",
                user="postgres",
            )
            with executor:
                yield dsn
        return
    # initdb and postgres refuse to run as root: run them as the postgres OS user.
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no postgres OS user to run initdb as")
    tmp = tempfile.mkdtemp(prefix="vllm-platform-pg-")
    os.chown(tmp, owner.pw_uid, owner.pw_gid)
    data = f"{tmp}/data"

    def as_postgres(*cmd: str) -> None:
        # No pipes: the server started by pg_ctl would inherit them and keep them open forever.
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *cmd],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )

    try:
        as_postgres(str(bindir / "initdb"), "-D", data, "-U", "postgres", "-A", "trust")
        options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={tmp}"
        as_postgres(
            str(bindir / "pg_ctl"), "-D", data, "-o", options, "-l", f"{tmp}/log", "-w", "start"
        )
        yield dsn
    finally:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(bindir / "pg_ctl"),
                "-D",
                data,
                "-m",
                "fast",
                "stop",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
            timeout=60,
        )
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A superuser DSN to the server's maintenance database."""
    wanted = os.environ.get(ENV_DSN, DEFAULT_DSN)
    if wanted != "throwaway" and (_reachable(wanted) or _start_debian_clusters(wanted)):
        yield wanted
        return
    with _throwaway_server() as dsn:
        yield dsn


@contextmanager
def database(server: str, template: str = "template0") -> Iterator[str]:
    """A new database (a copy of ``template``), dropped on exit; yields its superuser DSN."""
    name = f"vllm_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    try:
        yield conninfo.make_conninfo(server, dbname=name)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def roles(db_dsn: str) -> Iterator[Callable[[str], tuple[str, str]]]:
    """``make(kind)`` creates a LOGIN role with a unique name, returns (name, its DSN to
    ``db_dsn``); every role made is dropped on exit (roles are cluster-global)."""
    created: list[str] = []

    def make(kind: str) -> tuple[str, str]:
        name = f"vllm_test_{kind}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(db_dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(uuid.uuid4().hex)
                )
            )
        created.append(name)
        return name, conninfo.make_conninfo(db_dsn, user=name)

    try:
        yield make
    finally:
        with psycopg.connect(db_dsn, autocommit=True) as conn:
            for name in created:
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
                conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.fixture
def db(pg_server: str) -> Iterator[str]:
    """A DSN to a fresh, empty database (superuser), dropped after the test."""
    with database(pg_server) as dsn:
        yield dsn


@pytest.fixture(scope="session")
def migrated_template(pg_server: str) -> Iterator[str]:
    """The name of a database with every migration applied, to copy per test (fast)."""
    with database(pg_server) as dsn:
        migrate(dsn)
        yield str(conninfo.conninfo_to_dict(dsn)["dbname"])


@pytest.fixture
def migrated_db(pg_server: str, migrated_template: str) -> Iterator[str]:
    """A DSN to a fresh database holding the migrated (empty) registry, dropped after the test."""
    with database(pg_server, migrated_template) as dsn:
        yield dsn


MakeRole = Callable[[str], tuple[str, str]]


@pytest.fixture
def make_role(db: str) -> Iterator[MakeRole]:
    """``make_role(kind)``: a uniquely named LOGIN role on the test's ``db``, dropped after."""
    with roles(db) as make:
        yield make


@pytest.fixture
def h(db: str, make_role: MakeRole, tmp_path: Path) -> Harness:
    """The health reporter's script, run as the CronJob runs it, against this test's ``db``."""
    return make_harness(db, make_role, tmp_path)
