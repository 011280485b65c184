"""``registry``: the PostgreSQL registry the API router reads; passwords are secret keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final, Literal, Self

from pydantic import Field, StringConstraints, field_validator, model_validator

from components.config.base import ConfigModel, path_error
from components.config.types import ContainerText, Hostname

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
# The sslmode values lib/pq accepts (the driver of terraform-provider-postgresql, bridged by
# pulumi-postgresql): lib/pq v1.10.9 (terraform-provider-postgresql v1.26.0 go.mod) ssl.go:19-52
# refuses allow and prefer; v1.12.3 accepts them. Only what both accept is passed on.
LIB_PQ_SSLMODES: Final = frozenset({"disable", "require", "verify-ca", "verify-full"})
# Relative paths in the config are relative to the project directory: Pulumi runs the program
# and starts every provider plugin there (pulumi/pulumi sdk/go/common/resource/plugin/
# provider_plugin.go:287 passes ctx.Pwd, plugin.go:599 sets cmd.Dir to it).
PROJECT_DIR: Final = Path(__file__).resolve().parents[2]
_PEM_CERT: Final = "-----BEGIN CERTIFICATE-----"

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

    host: Hostname = Field(
        description=(
            "PostgreSQL host of the registry as the machine running `pulumi up` reaches it "
            "(migrations, roles and entries are written from there)"
        )
    )
    cluster_host: Hostname | None = Field(
        default=None,
        description=(
            "the same server as the in-cluster health reporter reaches it, when that name "
            "differs (e.g. host 127.0.0.1 through `kubectl port-forward`, clusterHost the "
            "Service's DNS name); default: host"
        ),
    )
    port: int = Field(default=5432, ge=1, le=65535, description="PostgreSQL port")
    database: ContainerText = Field(
        min_length=1, max_length=63, description="database of the registry"
    )
    user: str = Field(
        min_length=1,
        max_length=63,
        description="owner user: runs the migrations and manages the roles (registryPassword)",
    )
    sslmode: SslMode = Field(
        default="require",
        description=(
            "sslmode of every registry connection (allow and prefer only with manageRoles "
            "false: the postgresql provider's driver refuses them)"
        ),
    )
    ssl_root_cert: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "PEM file of the CA that signed the registry server's certificate, relative to the "
            "project directory; every registry client verifies against it (the program, the "
            "postgresql provider, the health reporter). Unset: verify-full uses the system "
            "trust store; verify-ca needs it"
        ),
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

    @field_validator("ssl_root_cert")
    @classmethod
    def _pem_file(cls, value: str | None) -> str | None:
        if value is None:
            return value
        path = PROJECT_DIR / value
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read {value!r} (relative to {PROJECT_DIR}): {exc}") from None
        if _PEM_CERT not in text:
            raise ValueError(f"{value!r} holds no PEM certificate")
        if "PRIVATE KEY" in text:
            raise ValueError(
                f"{value!r} holds a private key; give the CA's certificate only (the health "
                "reporter ships it in a ConfigMap)"
            )
        return value

    @model_validator(mode="after")
    def _every_client_accepts_the_tls_settings(self) -> Self:
        if self.sslmode == "verify-ca" and self.ssl_root_cert is None:
            raise path_error(
                "sslRootCert",
                "sslmode verify-ca needs the CA's PEM file: libpq's system trust store "
                "(sslrootcert=system) works only with verify-full",
            )
        if self.manage_roles and self.sslmode not in LIB_PQ_SSLMODES:
            raise path_error(
                "sslmode",
                f"{self.sslmode!r} is refused by the postgresql provider's driver (lib/pq), "
                "which manages the roles; use one of " + ", ".join(sorted(LIB_PQ_SSLMODES)),
            )
        return self

    @property
    def ssl_root_cert_pem(self) -> str | None:
        """The CA's PEM text (validated to exist), for clients that get it by value."""
        if self.ssl_root_cert is None:
            return None
        return (PROJECT_DIR / self.ssl_root_cert).read_text(encoding="utf-8")

    @property
    def libpq_root_cert(self) -> str | None:
        """``sslrootcert`` for libpq (psycopg): the CA file, else the system store for
        verify-full (libpq >= 16; psycopg-binary 3.3.9 bundles libpq 18)."""
        if self.ssl_root_cert is not None:
            return self.ssl_root_cert
        return "system" if self.sslmode == "verify-full" else None

    @property
    def lib_pq_root_cert(self) -> str | None:
        """``sslrootcert`` for lib/pq (the postgresql provider): a file path only (v1.10.9 knows
        no ``system``); unset, verify-* use Go's system roots (lib/pq ssl.go:153-190)."""
        return self.ssl_root_cert

    def writer_role_for(self, environment: str) -> str:
        return self.writer_role or WRITER_ROLE_DEFAULT.format(environment=environment)

    def reader_role_for(self, environment: str) -> str:
        return self.reader_role or READER_ROLE_DEFAULT.format(environment=environment)
