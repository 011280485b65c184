"""``registry``: the PostgreSQL registry the API router reads; passwords are secret keys."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from components.config.base import ConfigModel
from components.config.types import Hostname

__all__ = ["RegistryConfig"]


class RegistryConfig(ConfigModel):
    """The PostgreSQL registry the API router reads; passwords are secret keys."""

    host: Hostname = Field(description="PostgreSQL host of the registry")
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
    writer_role: Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$")] = Field(
        default="vllm_registry_writer",
        description="role this program and the health reporter write as (registryWriterPassword)",
    )
    reader_role: Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$")] = Field(
        default="vllm_registry_reader",
        description="SELECT-only role for the API router (registryReaderPassword)",
    )
    manage_roles: bool = Field(
        default=True, description="create the writer and reader roles with pulumi-postgresql"
    )
