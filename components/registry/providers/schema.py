"""``RegistrySchema``'s provider: create and update apply the pending migrations; delete keeps
the tables and their data."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pulumi.dynamic import CreateResult, DiffResult, ReadResult, UpdateResult
from pulumi.output import Unknown
from pulumi.runtime.rpc import unwrap_rpc_secret

from components.registry import migrate as migrations
from components.registry.connection import connect
from components.registry.providers.base import CONNECTION, RegistryProvider, differs, plain


def diff_schema(olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffResult:
    """Update when a migration file is new or changed (compared with what the database records)
    or the connection changed; replace when the database changed."""
    old_files = unwrap_rpc_secret(olds.get("migrations")) or {}
    new_files = unwrap_rpc_secret(news.get("migrations"))
    if isinstance(new_files, Unknown) or not isinstance(new_files, Mapping):
        files_changed = True
    else:
        files_changed = any(old_files.get(k) != v for k, v in new_files.items())
    replaces = ["database"] if differs(olds.get("database"), news.get("database")) else []
    changed = files_changed or differs(olds.get(CONNECTION), news.get(CONNECTION))
    return DiffResult(changes=changed or bool(replaces), replaces=replaces, stables=[])


def _schema_outs(
    props: Mapping[str, Any], applied: list[migrations.AppliedMigration]
) -> dict[str, Any]:
    return {
        CONNECTION: props.get(CONNECTION),
        "database": props.get("database"),
        "migrations": {a.key: a.checksum for a in applied},
        "applied_versions": [a.version for a in applied],
        "schema_version": max((a.version for a in applied), default=0),
    }


class RegistrySchemaProvider(RegistryProvider):
    """The registry schema: create/update apply pending migrations; delete keeps everything."""

    def __init__(self, directory: Path | None = None) -> None:
        super().__init__()
        # Only a path (tests point it at a copy); the default is the package's migrations.
        self.directory = str(directory) if directory is not None else None

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        p = plain(props)
        files = migrations.load_migrations(
            Path(self.directory) if self.directory else migrations.MIGRATIONS_DIR
        )
        local = {m.key: m.checksum for m in files}
        declared = dict(p.get("migrations") or {})
        if local != declared:
            raise migrations.MigrationError(
                "the provider's migration files differ from the program's "
                f"({sorted(set(local) ^ set(declared))}); run both from one checkout"
            )
        migrations.migrate(p[CONNECTION], files)
        with connect(p[CONNECTION], autocommit=True) as conn:
            applied = migrations.applied_migrations(conn)
        return _schema_outs(p, applied)

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        return diff_schema(_olds, _news)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._apply(props)
        return CreateResult(f"{outs['database']}/{migrations.MIGRATIONS_TABLE}", outs)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._apply(_news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Removing the resource from the program never drops the registry or its history."""

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        p = plain(props)
        with connect(p[CONNECTION], autocommit=True) as conn:
            applied = migrations.applied_migrations(conn)
        return ReadResult(id_, _schema_outs(p, applied))
