"""RegistryRoles under Pulumi's mock runtime, and the SQL its grants correspond to."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pulumi.runtime import mocks
from pulumi.runtime.sync_await import _sync_await

from components.config import RegistryConfig
from components.resources.registry_roles import (
    READER_GRANTS,
    WRITER_GRANTS,
    GrantSpec,
    RegistryRoles,
    RegistryRolesArgs,
    grant_statements,
)


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[mocks.MockResourceArgs] = []

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.resources.append(args)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


CONFIG = RegistryConfig(host="db.internal", database="model_registry", user="registry_owner")


@pytest.fixture
def registered() -> _Mocks:
    m = _Mocks()
    pulumi.runtime.set_mocks(m, project="vllm-platform", stack="staging", preview=False)
    roles = RegistryRoles(
        "registry-roles",
        RegistryRolesArgs(
            config=CONFIG,
            writer_role="vllm_registry_writer_staging",
            reader_role="vllm_registry_reader_staging",
            owner_password=pulumi.Output.secret("owner-pw"),
            writer_password=pulumi.Output.secret("writer-pw"),
            reader_password=pulumi.Output.secret("reader-pw"),
            database="model_registry",
            environment="staging",
            owner_stack="vllm-platform/staging",
        ),
    )
    # Both DSNs resolve only after their role and every grant is registered.
    assert _sync_await(roles.writer_dsn.is_secret())
    assert _sync_await(roles.reader_dsn.is_secret())
    return m


def _by_type(m: _Mocks, typ: str) -> dict[str, mocks.MockResourceArgs]:
    return {r.name: r for r in m.resources if r.typ == typ}


def test_the_component_uses_an_explicit_postgresql_provider_from_the_config(
    registered: _Mocks,
) -> None:
    [provider] = _by_type(registered, "pulumi:providers:postgresql").values()
    assert provider.name == "registry-roles-postgresql"
    assert {k: provider.inputs[k] for k in ("host", "port", "database", "username", "sslmode")} == {
        "host": "db.internal",
        "port": "5432",
        "database": "model_registry",
        "username": "registry_owner",
        "sslmode": "require",
    }
    assert provider.inputs["superuser"] == "false"


def test_writer_and_reader_are_login_roles_named_from_the_config(registered: _Mocks) -> None:
    roles = _by_type(registered, "postgresql:index/role:Role")
    assert {n: (r.inputs["name"], r.inputs["login"]) for n, r in roles.items()} == {
        "registry-roles-writer": ("vllm_registry_writer_staging", True),
        "registry-roles-reader": ("vllm_registry_reader_staging", True),
    }


def test_grants_match_the_declared_least_privilege_specs(registered: _Mocks) -> None:
    grants = _by_type(registered, "postgresql:index/grant:Grant")
    expected = {
        f"registry-roles-{kind}-{g.key}": (role, g)
        for kind, role, specs in (
            ("writer", "vllm_registry_writer_staging", WRITER_GRANTS),
            ("reader", "vllm_registry_reader_staging", READER_GRANTS),
        )
        for g in specs
    }
    assert set(grants) == set(expected)
    for name, (role, g) in expected.items():
        inputs = grants[name].inputs
        assert inputs["role"] == role
        assert inputs["database"] == "model_registry"
        assert inputs["objectType"] == g.object_type
        assert inputs["privileges"] == list(g.privileges)
        assert inputs.get("objects", []) == list(g.objects)
        assert inputs.get("schema") == (None if g.object_type == "database" else "public")


def test_no_role_may_write_a_table_directly() -> None:
    # Writes go through the registry's functions (migration 0006) only.
    for g in (*WRITER_GRANTS, *READER_GRANTS):
        if g.object_type == "table":
            assert g.privileges == ("SELECT",)
        assert g.object_type != "sequence"


def test_the_writer_is_bound_to_its_environment_and_stack_with_the_owners_connection(
    registered: _Mocks,
) -> None:
    [binding] = _by_type(
        registered, "pulumi-python:dynamic/registry:RegistryWriterBinding"
    ).values()
    assert binding.name == "registry-roles-writer-binding"
    assert binding.inputs["role"] == "vllm_registry_writer_staging"
    assert binding.inputs["environment"] == "staging"
    assert binding.inputs["owner_stack"] == "vllm-platform/staging"
    assert "user=registry_owner" in binding.inputs["connection"]["value"]  # a secret


def test_grant_statements_render_quoted_identifiers() -> None:
    spec = GrantSpec("t", "table", ("SELECT",), ("model_registry_entries",))
    [statement] = grant_statements(spec, 'odd"role', "db")
    assert statement.as_string() == (
        'GRANT SELECT ON TABLE "public"."model_registry_entries" TO "odd""role"'
    )
    [db] = grant_statements(GrantSpec("c", "database", ("CONNECT",)), "r", "model_registry")
    assert db.as_string() == 'GRANT CONNECT ON DATABASE "model_registry" TO "r"'


def test_grant_statements_refuse_unknown_privileges() -> None:
    bad = GrantSpec("x", "table", ("SELECT", "DROP"), ("t",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="DROP"):
        grant_statements(bad, "r", "db")
