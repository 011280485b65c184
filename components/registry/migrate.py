"""Versioned SQL migrations of the registry schema, applied under an advisory lock.

Each ``migrations/NNNN_name.sql`` runs in its own transaction and is recorded with its sha256 (an
edited applied file is refused). Lock waits are bounded and retried so the router's reads never
queue long behind a migration; a legacy table is checked before anything is applied.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg

from components.registry.connection import connect
from components.registry.rows import INSERT_COLUMNS

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATIONS_TABLE = "vllm_platform_schema_migrations"
# pg_advisory_lock key: the first 8 bytes of sha256("vllm-platform registry migrations").
ADVISORY_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"vllm-platform registry migrations").digest()[:8], "big", signed=True
)
ENTRIES_TABLE = "model_registry_entries"
# Waiting for the advisory lock (another migration run) blocks no reader: it may wait long.
ADVISORY_LOCK_TIMEOUT_MS = 120_000
# lock_timeout "applies separately to each lock acquisition attempt" and only to lock waits
# (https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-LOCK-TIMEOUT); a
# queued ACCESS EXCLUSIVE request blocks every later ACCESS SHARE (plain SELECT) request on the
# table (https://www.postgresql.org/docs/current/explicit-locking.html#LOCKING-TABLES, "conflicts
# with" table; requests are granted in queue order). So a reader of the router waits at most
# LOCK_TIMEOUT_MS behind one lock wait of a migration.
LOCK_TIMEOUT_MS = 2000
LOCK_ATTEMPTS = 6
BACKOFF_SECONDS = 0.5
"""First pause between attempts; doubles each time (0.5, 1, 2, 4, 8 s: ~28 s in all)."""
_FILE_NAME = re.compile(r"^(?P<version>[0-9]{4})_(?P<name>[a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """The migrations cannot be applied as they are."""


class MigrationChecksumError(MigrationError):
    """An already-applied migration file was edited."""


class MigrationLockError(MigrationError):
    """A migration could not get its locks in time (a long transaction holds the table)."""


class LegacyTableError(MigrationError):
    """An existing ``model_registry_entries`` has a column this platform cannot work with."""


_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str
    checksum: str

    @property
    def filename(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"

    @property
    def key(self) -> str:
        """``NNNN_name``: how the Pulumi resource keys the migration in its inputs."""
        return f"{self.version:04d}_{self.name}"


@dataclass(frozen=True, slots=True)
class AppliedMigration:
    version: int
    name: str
    checksum: str

    @property
    def key(self) -> str:
        return f"{self.version:04d}_{self.name}"


def _checksum(text: str) -> str:
    # Line endings are normalised so a checkout with CRLF does not count as an edit.
    return hashlib.sha256(text.replace("\r\n", "\n").encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files of ``directory`` in version order; bad names or duplicates raise."""
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        m = _FILE_NAME.match(path.name)
        if m is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_lower_snake.sql")
        version = int(m.group("version"))
        if version in migrations:
            raise MigrationError(
                f"{path.name}: version {version:04d} is also {migrations[version].filename}"
            )
        text = path.read_text(encoding="utf-8")
        migrations[version] = Migration(version, m.group("name"), text, _checksum(text))
    if not migrations:
        raise MigrationError(f"no migration files in {directory}")
    return [migrations[v] for v in sorted(migrations)]


def _ensure_table(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    conn.execute(
        f"""CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
            version integer PRIMARY KEY,
            name text NOT NULL,
            checksum text NOT NULL CHECK (checksum ~ '^[0-9a-f]{{64}}$'),
            applied_at timestamptz NOT NULL DEFAULT now()
        )"""
    )


def applied_migrations(conn: psycopg.Connection[tuple[object, ...]]) -> list[AppliedMigration]:
    """What the database records as applied (empty when it has no migrations table)."""
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (MIGRATIONS_TABLE,)).fetchone()
    if not exists or not exists[0]:
        return []
    rows = conn.execute(
        f"SELECT version, name, checksum FROM {MIGRATIONS_TABLE} ORDER BY version"
    ).fetchall()
    return [AppliedMigration(int(str(v)), str(n), str(c)) for v, n, c in rows]


def _check_applied(migrations: Sequence[Migration], applied: Sequence[AppliedMigration]) -> None:
    by_version = {m.version: m for m in migrations}
    for a in applied:
        m = by_version.get(a.version)
        if m is not None and m.checksum != a.checksum:
            raise MigrationChecksumError(
                f"migration {m.filename} was changed after it was applied "
                f"(recorded sha256 {a.checksum[:12]}…, file now {m.checksum[:12]}…); "
                "never edit an applied migration: restore the file and add a new one"
            )


# What each column this platform reads or writes must be (pg_type.typname). A legacy table may
# use any of the listed types; anything else is refused before a migration runs.
_STRING = ("text", "varchar", "bpchar", "citext", "name")
_INTEGER = ("int2", "int4", "int8")
_TIMESTAMP = ("timestamptz", "timestamp")
_COLUMN_TYPES: Mapping[str, tuple[str, ...]] = {
    # Any id type with equality works; provider outputs carry a non-integer id as a string.
    "id": (*_INTEGER, "uuid", *_STRING),
    **{
        c: _STRING
        for c in (
            "model_name",
            "environment",
            "endpoint_url",
            "health_status",
            "namespace",
            "deployment_name",
            "image",
            "hf_model_id",
            "model_revision",
            "gpu_type",
            "stack",
            "owner_stack",
            "smoke_job",
            "target_image",
            "target_revision",
            "target_smoke_job",
        )
    },
    **{
        c: _INTEGER
        for c in ("max_model_len", "gpus_per_replica", "replicas", "consecutive_failures")
    },
    **{c: ("bool",) for c in ("routing_enabled", "legacy_row")},
    **{
        c: _TIMESTAMP
        for c in (
            "created_at",
            "updated_at",
            "retired_at",
            "last_health_check_at",
            "rollout_started_at",
            "rollout_deadline_at",
        )
    },
}
_SQL_TYPE = {_STRING: "text", _INTEGER: "integer", _TIMESTAMP: "timestamptz", ("bool",): "boolean"}


@dataclass(frozen=True, slots=True)
class _Column:
    name: str
    typname: str
    type_sql: str
    not_null: bool
    default: str | None
    identity_or_generated: bool


def _table_columns(conn: psycopg.Connection[tuple[object, ...]]) -> dict[str, _Column]:
    """The live columns of model_registry_entries (empty when the table does not exist)."""
    found = conn.execute(
        """SELECT a.attname, t.typname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  pg_get_expr(d.adbin, d.adrelid), a.attidentity <> '' OR a.attgenerated <> ''
             FROM pg_attribute a
             JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped""",
        (ENTRIES_TABLE,),
    ).fetchall()
    return {
        str(n): _Column(str(n), str(t), str(ts), bool(nn), None if d is None else str(d), bool(g))
        for n, t, ts, nn, d, g in found
    }


def check_legacy_table(
    conn: psycopg.Connection[tuple[object, ...]], insert_columns: Sequence[str]
) -> None:
    """Refuse a ``model_registry_entries`` this platform cannot safely use, naming the column.

    ``insert_columns``: what the registry's inserts set (``INSERT_COLUMNS``).
    """
    columns = _table_columns(conn)
    problems: list[str] = []
    for col in columns.values():
        allowed = _COLUMN_TYPES.get(col.name)
        if allowed is not None and col.typname not in allowed:
            wanted = _SQL_TYPE.get(allowed, "integer, uuid or text")
            problems.append(
                f"{ENTRIES_TABLE}.{col.name} is {col.type_sql}, the registry needs {wanted}: "
                f"convert it (ALTER TABLE {ENTRIES_TABLE} ALTER COLUMN {col.name} TYPE {wanted} "
                f"USING {col.name}::{wanted}) or rename the legacy column, then migrate again"
            )
        if (
            col.not_null
            and col.default is None
            and not col.identity_or_generated
            and col.name not in insert_columns
        ):
            problems.append(
                f"{ENTRIES_TABLE}.{col.name} is NOT NULL without a default and the registry's "
                f"inserts do not set it: give it a default (ALTER TABLE {ENTRIES_TABLE} ALTER "
                f"COLUMN {col.name} SET DEFAULT ...) or drop NOT NULL "
                f"(ALTER COLUMN {col.name} DROP NOT NULL), then migrate again"
            )
    if problems:
        raise LegacyTableError(
            "the existing table cannot be used as the model registry; nothing was changed:\n  "
            + "\n  ".join(problems)
        )


def _restore_defaults(
    conn: psycopg.Connection[tuple[object, ...]], m: Migration, before: Mapping[str, _Column]
) -> None:
    """Fail ``m`` if it changed a pre-existing column's type; put changed defaults back."""
    after = _table_columns(conn)
    for name, old in before.items():
        new = after.get(name)
        if new is None:
            continue
        if new.type_sql != old.type_sql:
            raise MigrationError(
                f"migration {m.filename} would change the type of existing column "
                f"{ENTRIES_TABLE}.{name} from {old.type_sql} to {new.type_sql}; "
                "migrations never change an existing column's type"
            )
        if new.default != old.default:
            # The default belongs to whoever made the column (a legacy writer may rely on it).
            restore = f"SET DEFAULT {old.default}" if old.default is not None else "DROP DEFAULT"
            conn.execute(f'ALTER TABLE {ENTRIES_TABLE} ALTER COLUMN "{name}" {restore}'.encode())
            _log.info(
                "%s: kept the existing default of %s.%s (%s)",
                m.filename,
                ENTRIES_TABLE,
                name,
                old.default,
            )


def _advisory_lock_holder(conn: psycopg.Connection[tuple[object, ...]]) -> str:
    """Who holds the migrations' advisory lock: pid, application, user and session start.

    A bigint advisory lock shows in pg_locks as classid (high 32 bits), objid (low 32 bits) and
    objsubid 1 (https://www.postgresql.org/docs/current/view-pg-locks.html)."""
    unsigned = ADVISORY_LOCK_KEY & 0xFFFF_FFFF_FFFF_FFFF
    found = conn.execute(
        """SELECT a.pid, a.application_name, a.usename, a.backend_start, a.state
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
              AND l.classid::bigint = %s AND l.objid::bigint = %s""",
        (unsigned >> 32, unsigned & 0xFFFF_FFFF),
    ).fetchone()
    if found is None:
        return "its holder has gone since"
    pid, app, user, since, state = found
    return (
        f"held by pid {pid} (application_name {app!r}, user {user!r}, session since "
        f"{since.isoformat() if isinstance(since, datetime) else 'unknown'}, "
        f"{state or 'state unknown'})"
    )


def _take_advisory_lock(conn: psycopg.Connection[tuple[object, ...]], timeout_ms: int) -> None:
    conn.execute(f"SET lock_timeout = {int(timeout_ms)}")
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
    except psycopg.errors.LockNotAvailable:
        raise MigrationLockError(
            f"another session holds the registry's migration lock after {timeout_ms} ms "
            f"({_advisory_lock_holder(conn)}); nothing was applied: let that run finish, or end "
            "that session (pg_terminate_backend), then migrate again"
        ) from None


def _apply_one(conn: psycopg.Connection[tuple[object, ...]], m: Migration) -> None:
    with conn.transaction():
        before = _table_columns(conn)
        conn.execute(m.sql.encode())
        _restore_defaults(conn, m, before)
        conn.execute(
            f"INSERT INTO {MIGRATIONS_TABLE} (version, name, checksum) VALUES (%s, %s, %s)",
            (m.version, m.name, m.checksum),
        )


def _apply_with_retries(
    conn: psycopg.Connection[tuple[object, ...]],
    m: Migration,
    *,
    attempts: int,
    lock_timeout_ms: int,
    backoff_seconds: float,
) -> None:
    for attempt in range(1, attempts + 1):
        try:
            _apply_one(conn, m)
            return
        except psycopg.errors.LockNotAvailable as exc:
            # SQLSTATE 55P03, raised when lock_timeout expires; the transaction rolled back.
            if attempt == attempts:
                raise MigrationLockError(
                    f"migration {m.filename} could not lock its tables within "
                    f"{lock_timeout_ms} ms in {attempts} attempts (a long-running transaction "
                    "holds them; see pg_stat_activity); nothing of it was applied and readers "
                    "were never blocked longer than one wait: run the migration again later "
                    "or end that transaction"
                ) from exc
            pause = backoff_seconds * 2 ** (attempt - 1)
            _log.info(
                "%s: lock not granted within %d ms (attempt %d/%d); retrying in %.1f s",
                m.filename,
                lock_timeout_ms,
                attempt,
                attempts,
                pause,
            )
            time.sleep(pause)
        except psycopg.Error as exc:
            raise MigrationError(
                f"migration {m.filename} failed and was rolled back: "
                f"{str(exc).strip().splitlines()[0]}"
            ) from exc


def migrate(
    dsn: str,
    migrations: Sequence[Migration] | None = None,
    *,
    lock_timeout_ms: int = LOCK_TIMEOUT_MS,
    attempts: int = LOCK_ATTEMPTS,
    backoff_seconds: float = BACKOFF_SECONDS,
    advisory_lock_timeout_ms: int = ADVISORY_LOCK_TIMEOUT_MS,
) -> list[int]:
    """Apply the pending migrations; returns the versions applied by this call (may be empty).

    Raises ``MigrationChecksumError`` if an applied file changed, ``LegacyTableError`` if an
    existing table has a column the registry cannot use, ``MigrationLockError`` if a
    migration's locks were not granted in ``attempts`` waits of ``lock_timeout_ms`` or another
    session held the migrations' advisory lock past ``advisory_lock_timeout_ms`` (naming it),
    ``MigrationError`` if a migration fails (that migration is rolled back; earlier ones stay
    applied), and ``RegistryConnectionError`` if the database cannot be reached.
    """
    if not (attempts >= 1 and lock_timeout_ms >= 1):
        raise ValueError("attempts and lock_timeout_ms must be positive")
    todo = list(migrations) if migrations is not None else load_migrations()
    done: list[int] = []
    with connect(dsn, autocommit=True) as conn:
        _take_advisory_lock(conn, advisory_lock_timeout_ms)
        try:
            conn.execute(f"SET lock_timeout = {int(lock_timeout_ms)}")
            _ensure_table(conn)
            applied = applied_migrations(conn)
            _check_applied(todo, applied)
            have = {a.version for a in applied}
            pending = [m for m in todo if m.version not in have]
            if pending:
                check_legacy_table(conn, INSERT_COLUMNS)
            for m in pending:
                _apply_with_retries(
                    conn,
                    m,
                    attempts=attempts,
                    lock_timeout_ms=lock_timeout_ms,
                    backoff_seconds=backoff_seconds,
                )
                done.append(m.version)
        finally:
            # Closing the session releases the lock too; unlocking early just frees waiters.
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    return done
