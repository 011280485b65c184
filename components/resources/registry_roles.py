"""``RegistryRoles``: the writer role (this program) and the reader role (the API router).

The privileges are data (``WRITER_GRANTS``, ``READER_GRANTS``) used twice: to declare the
``pulumi_postgresql.Grant`` resources, and to render the equivalent SQL (``grant_statements``)
that the integration tests run against a real server, so what is tested is what is deployed.

Writer: CONNECT, schema USAGE, SELECT/INSERT/UPDATE on the entries (rows are retired, never
deleted), SELECT/INSERT on the append-only events, USAGE on the two id sequences. Reader:
CONNECT, schema USAGE, SELECT on both tables. Neither owns anything, so neither can change
the schema. The owner user (``RegistryConfig.user``) needs CREATEROLE to create the roles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import pulumi
import pulumi_postgresql as postgresql
from psycopg import sql

from components.config import RegistryConfig
from components.registry.rows import ENTRIES_TABLE, EVENTS_TABLE
from components.resources.registry import registry_dsn

ObjectType = Literal["database", "schema", "table", "sequence"]
Privilege = Literal["CONNECT", "USAGE", "SELECT", "INSERT", "UPDATE"]
_PRIVILEGES: Final[frozenset[str]] = frozenset({"CONNECT", "USAGE", "SELECT", "INSERT", "UPDATE"})
SCHEMA: Final = "public"


@dataclass(frozen=True, slots=True)
class GrantSpec:
    key: str
    """Suffix of the Grant resource's name (stable: renaming it replaces the grant)."""
    object_type: ObjectType
    privileges: tuple[Privilege, ...]
    objects: tuple[str, ...] = ()


_COMMON: Final = (
    GrantSpec("connect", "database", ("CONNECT",)),
    GrantSpec("schema-usage", "schema", ("USAGE",)),
)
WRITER_GRANTS: Final[tuple[GrantSpec, ...]] = (
    *_COMMON,
    GrantSpec("entries", "table", ("SELECT", "INSERT", "UPDATE"), (ENTRIES_TABLE,)),
    GrantSpec("events", "table", ("SELECT", "INSERT"), (EVENTS_TABLE,)),
    GrantSpec(
        "sequences",
        "sequence",
        ("USAGE",),
        (f"{ENTRIES_TABLE}_id_seq", f"{EVENTS_TABLE}_id_seq"),
    ),
)
READER_GRANTS: Final[tuple[GrantSpec, ...]] = (
    *_COMMON,
    GrantSpec("tables", "table", ("SELECT",), (ENTRIES_TABLE, EVENTS_TABLE)),
)


def grant_statements(
    spec: GrantSpec, role: str, database: str, schema: str = SCHEMA
) -> list[sql.Composed]:
    """The GRANT statements equivalent to one ``postgresql.Grant`` of ``spec``."""
    bad = set(spec.privileges) - _PRIVILEGES
    if bad:
        raise ValueError(f"unsupported privileges {sorted(bad)}")
    privileges = sql.SQL(", ").join(sql.SQL(p) for p in spec.privileges)
    if spec.object_type == "database":
        targets: Sequence[sql.Composable] = [
            sql.SQL("DATABASE {}").format(sql.Identifier(database))
        ]
    elif spec.object_type == "schema":
        targets = [sql.SQL("SCHEMA {}").format(sql.Identifier(schema))]
    else:
        kind = sql.SQL("TABLE" if spec.object_type == "table" else "SEQUENCE")
        targets = [
            sql.SQL("{} {}").format(kind, sql.Identifier(schema, obj)) for obj in spec.objects
        ]
    return [
        sql.SQL("GRANT {privileges} ON {target} TO {role}").format(
            privileges=privileges, target=target, role=sql.Identifier(role)
        )
        for target in targets
    ]


@dataclass(frozen=True)
class RegistryRolesArgs:
    config: RegistryConfig
    writer_role: str
    """``StackConfig.writer_role`` (the default carries the environment)."""
    reader_role: str
    owner_password: pulumi.Input[str]
    """Password of ``config.user``, which connects to create roles and grants."""
    writer_password: pulumi.Input[str]
    reader_password: pulumi.Input[str]
    database: pulumi.Input[str]
    """Pass ``RegistrySchema.database`` so the grants wait for the tables to exist."""


class RegistryRoles(pulumi.ComponentResource):
    """LOGIN roles for writing (``args.writer_role``) and reading (``args.reader_role``)."""

    writer_role: pulumi.Output[str]
    reader_role: pulumi.Output[str]
    writer_dsn: pulumi.Output[str]
    """Secret DSN of the writer; resolves after all its grants exist (use it for entries)."""
    reader_dsn: pulumi.Output[str]
    """Secret DSN of the reader (for the API router's configuration)."""

    def __init__(
        self, name: str, args: RegistryRolesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("vllm-platform:registry:RegistryRoles", name, None, opts)
        cfg = args.config
        provider = postgresql.Provider(
            f"{name}-postgresql",
            host=cfg.host,
            port=cfg.port,
            database=args.database,
            username=cfg.user,
            password=pulumi.Output.secret(args.owner_password),
            sslmode=cfg.sslmode,
            sslrootcert=cfg.lib_pq_root_cert,
            superuser=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        self.writer_role, self.writer_dsn = _login_role(
            f"{name}-writer",
            args.config,
            args.database,
            role=args.writer_role,
            password=args.writer_password,
            grants=WRITER_GRANTS,
            opts=child,
        )
        self.reader_role, self.reader_dsn = _login_role(
            f"{name}-reader",
            args.config,
            args.database,
            role=args.reader_role,
            password=args.reader_password,
            grants=READER_GRANTS,
            opts=child,
        )
        self.register_outputs(
            {
                "writer_role": self.writer_role,
                "reader_role": self.reader_role,
                "writer_dsn": self.writer_dsn,
                "reader_dsn": self.reader_dsn,
            }
        )


def _login_role(
    resource_name: str,
    cfg: RegistryConfig,
    database: pulumi.Input[str],
    *,
    role: str,
    password: pulumi.Input[str],
    grants: Sequence[GrantSpec],
    opts: pulumi.ResourceOptions,
) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """One LOGIN role and its grants: its name, and its DSN (resolved once every grant exists)."""
    created = postgresql.Role(
        resource_name,
        name=role,
        login=True,
        password=pulumi.Output.secret(password),
        opts=opts,
    )
    granted = [
        postgresql.Grant(
            f"{resource_name}-{g.key}",
            database=database,
            role=created.name,
            object_type=g.object_type,
            privileges=list(g.privileges),
            schema=None if g.object_type == "database" else SCHEMA,
            objects=list(g.objects) if g.objects else None,
            opts=opts,
        )
        for g in grants
    ]
    # The user name resolves only once every grant exists, and the DSN with it.
    user = pulumi.Output.all(created.name, *[g.id for g in granted]).apply(lambda v: str(v[0]))
    return created.name, registry_dsn(cfg, user, password)
