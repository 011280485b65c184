"""Versioned SQL migrations of the registry schema.

Files ``migrations/NNNN_name.sql`` are applied in version order, each in its own transaction,
while this run holds a PostgreSQL advisory lock (so concurrent runs apply each file exactly
once). Each applied file is recorded in ``vllm_platform_schema_migrations`` with the sha256 of
its content; a recorded file whose content has since changed is refused, naming the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

from components.registry.connection import connect

__all__ = [
    "MIGRATIONS_DIR",
    "MIGRATIONS_TABLE",
    "AppliedMigration",
    "Migration",
    "MigrationChecksumError",
    "MigrationError",
    "applied_migrations",
    "load_migrations",
    "migrate",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATIONS_TABLE = "vllm_platform_schema_migrations"
# pg_advisory_lock key: the first 8 bytes of sha256("vllm-platform registry migrations").
ADVISORY_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"vllm-platform registry migrations").digest()[:8], "big", signed=True
)
LOCK_TIMEOUT = "120s"
_FILE_NAME = re.compile(r"^(?P<version>[0-9]{4})_(?P<name>[a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """The migrations cannot be applied as they are."""


class MigrationChecksumError(MigrationError):
    """An already-applied migration file was edited."""


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


def migrate(dsn: str, migrations: Sequence[Migration] | None = None) -> list[int]:
    """Apply the pending migrations; returns the versions applied by this call (may be empty).

    Raises ``MigrationChecksumError`` if an applied file changed, ``MigrationError`` if a
    migration fails (that migration is rolled back; earlier ones stay applied), and
    ``RegistryConnectionError`` if the database cannot be reached.
    """
    todo = list(migrations) if migrations is not None else load_migrations()
    done: list[int] = []
    with connect(dsn, autocommit=True) as conn:
        conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        try:
            _ensure_table(conn)
            applied = applied_migrations(conn)
            _check_applied(todo, applied)
            have = {a.version for a in applied}
            for m in todo:
                if m.version in have:
                    continue
                try:
                    with conn.transaction():
                        conn.execute(m.sql.encode())
                        conn.execute(
                            f"INSERT INTO {MIGRATIONS_TABLE} (version, name, checksum) "
                            "VALUES (%s, %s, %s)",
                            (m.version, m.name, m.checksum),
                        )
                except psycopg.Error as exc:
                    raise MigrationError(
                        f"migration {m.filename} failed and was rolled back: "
                        f"{str(exc).strip().splitlines()[0]}"
                    ) from exc
                done.append(m.version)
        finally:
            # Closing the session releases the lock too; unlocking early just frees waiters.
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    return done
