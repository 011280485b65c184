"""``registry``: the PostgreSQL registry the API router reads; passwords are secret keys."""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import Field, StringConstraints

from components.config.base import ConfigModel

__all__ = ["READER_ROLE_DEFAULT", "WRITER_ROLE_DEFAULT", "RegistryConfig", "role_has_word"]

RoleName = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$")]
# Roles are server-wide in PostgreSQL (not per database), and pulumi-postgresql creates them
# with a plain CREATE ROLE and drops them on delete (docs/provider-semantics.md): stacks that
# share a server must not share role names, so the defaults carry the environment.
WRITER_ROLE_DEFAULT: Final = "vllm_registry_writer_{environment}"
READER_ROLE_DEFAULT: Final = "vllm_registry_reader_{environment}"


def role_has_word(role: str, word: str) -> bool:
    """Whether ``word`` is one of the ``_``-separated words of ``role``."""
    return word in role.split("_")


class RegistryConfig(ConfigModel):
    """The PostgreSQL registry the API router reads; passwords are secret keys."""

    host: str = Field(min_length=1, max_length=253, description="PostgreSQL host of the registry")
    port: int = Field(default=5432, ge=1, le=65535, description="PostgreSQL port")
    database: str = Field(min_length=1, max_length=63, description="database of the registry")
    user: str = Field(
        min_length=1,
        max_length=63,
        description="owner user: runs the migrations and manages the roles (registryPassword)",
    )
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = Field(
        default="require", description="libpq sslmode for every registry connection"
    )
    writer_role: RoleName | None = Field(
        default=None,
        description=(
            "role this program and the health reporter write as (registryWriterPassword); "
            f"default {WRITER_ROLE_DEFAULT.format(environment='<environment>')}"
        ),
    )
    reader_role: RoleName | None = Field(
        default=None,
        description=(
            "SELECT-only role for the API router (registryReaderPassword); "
            f"default {READER_ROLE_DEFAULT.format(environment='<environment>')}"
        ),
    )
    manage_roles: bool = Field(
        default=True, description="create the writer and reader roles with pulumi-postgresql"
    )
    exclusive_server: bool = Field(
        default=False,
        description=(
            "no other stack manages roles on this PostgreSQL server: managed role names need not "
            "contain the environment (roles are server-wide; a shared name makes the second "
            "stack's CREATE ROLE fail and one stack's destroy drop the other's roles)"
        ),
    )

    def writer_role_for(self, environment: str) -> str:
        return self.writer_role or WRITER_ROLE_DEFAULT.format(environment=environment)

    def reader_role_for(self, environment: str) -> str:
        return self.reader_role or READER_ROLE_DEFAULT.format(environment=environment)
