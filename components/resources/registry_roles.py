"""``RegistryRoles``: the writer role (this program, the health reporter) and the reader role
(the API router), their grants, and the writer's binding to its environment and stack.

The privileges are data (``WRITER_GRANTS``, ``READER_GRANTS``) used twice: to declare the
``pulumi_postgresql.Grant`` resources and to render the same SQL (``grant_statements``) for the
integration tests. Neither role writes a table directly: the writer calls the registry's
functions (migration 0006), which take its environment and stack from the binding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, get_args

import pulumi
import pulumi_postgresql as postgresql
from psycopg import sql

from components.config import RegistryConfig
from components.registry.rows import ENTRIES_TABLE, EVENTS_TABLE
from components.resources.registry import (
    RegistryWriterBinding,
    RegistryWriterBindingArgs,
    registry_dsn,
)

ObjectType = Literal["database", "schema", "table", "sequence"]
Privilege = Literal["CONNECT", "TEMPORARY", "USAGE", "SELECT"]
_PRIVILEGES: Final[frozenset[str]] = frozenset(get_args(Privilege))
SCHEMA: Final = "public"


@dataclass(frozen=True, slots=True)
class GrantSpec:
    key: str
    """Suffix of the Grant resource's name (stable: renaming it replaces the grant)."""
    object_type: ObjectType
    privileges: tuple[Privilege, ...]
    objects: tuple[str, ...] = ()


_SCHEMA_USAGE: Final = GrantSpec("schema-usage", "schema", ("USAGE",))
# No INSERT/UPDATE/DELETE: the writer writes through the registry's functions only. TEMPORARY:
# the health reporter copies its probe results into a temporary table (report.sql).
WRITER_GRANTS: Final[tuple[GrantSpec, ...]] = (
    GrantSpec("connect", "database", ("CONNECT", "TEMPORARY")),
    _SCHEMA_USAGE,
    GrantSpec("entries", "table", ("SELECT",), (ENTRIES_TABLE,)),
    GrantSpec("events", "table", ("SELECT",), (EVENTS_TABLE,)),
)
READER_GRANTS: Final[tuple[GrantSpec, ...]] = (
    GrantSpec("connect", "database", ("CONNECT",)),
    _SCHEMA_USAGE,
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
    environment: str
    """The environment the writer writes (its binding)."""
    owner_stack: str
    """``<project>/<stack>`` (``owner_stack_name()``): the stack whose rows the writer writes."""


def _bound_writer_dsn(
    name: str,
    args: RegistryRolesArgs,
    role: pulumi.Output[str],
    dsn: pulumi.Output[str],
    parent: pulumi.Resource,
) -> pulumi.Output[str]:
    """Bind the writer ``role`` to its environment and stack (the owner connects); the writer's
    ``dsn``, resolving once its grants and its binding exist."""
    binding = RegistryWriterBinding(
        f"{name}-writer-binding",
        RegistryWriterBindingArgs(
            connection=registry_dsn(args.config, args.config.user, args.owner_password),
            role=role,
            environment=args.environment,
            owner_stack=args.owner_stack,
        ),
        pulumi.ResourceOptions(parent=parent),
    )
    return pulumi.Output.secret(pulumi.Output.all(dsn, binding.id).apply(lambda v: str(v[0])))


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
        self.writer_role, writer_dsn = _login_role(
            f"{name}-writer",
            args.config,
            args.database,
            role=args.writer_role,
            password=args.writer_password,
            grants=WRITER_GRANTS,
            opts=child,
        )
        self.writer_dsn = _bound_writer_dsn(name, args, self.writer_role, writer_dsn, self)
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
