"""Registry role names: per environment by default, and hard to share between stacks.

PostgreSQL roles are server-wide, pulumi-postgresql creates them with a plain CREATE ROLE and
drops them on delete (REASSIGN OWNED, DROP OWNED, DROP ROLE): two stacks managing the same role
on one server means the second ``up`` fails and one ``destroy`` breaks the other stack.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from components.config import ConfigError, load_stack_config
from components.config.source import load_from_stack_file
from tests.support.stackfiles import (
    committed_stack_files,
    raw_stack,
)

STACK_FILES = committed_stack_files(examples=True)


def _issues(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_stack_config(raw, set())
    return [str(i) for i in info.value.issues]


def test_stacks_sharing_a_server_manage_distinct_roles() -> None:
    managed: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
    for path in STACK_FILES:
        cfg = load_from_stack_file(path).config
        if not cfg.registry.manage_roles:
            continue
        server = managed[(cfg.registry.host, cfg.registry.port)]
        for role in (cfg.writer_role, cfg.reader_role):
            assert role not in server, f"{path.name} and {server.get(role)} both manage {role}"
            server[role] = path.name
    # The committed development, staging and production stacks do share one server.
    assert max(len(roles) for roles in managed.values()) >= 6


@pytest.mark.parametrize("stack", ["development", "staging", "production"])
def test_default_role_names_carry_the_environment(stack: str) -> None:
    cfg = load_stack_config(raw_stack(stack), set()).config
    assert cfg.writer_role == f"vllm_registry_writer_{stack}"
    assert cfg.reader_role == f"vllm_registry_reader_{stack}"


@pytest.mark.parametrize("key", ["writerRole", "readerRole"])
def test_a_managed_role_without_the_environment_is_refused(key: str) -> None:
    raw = raw_stack("staging")
    raw["registry"][key] = "vllm_registry_shared"
    (issue,) = _issues(raw)
    assert issue.startswith(f"registry.{key}: 'vllm_registry_shared' must contain the environment")
    assert "registry.exclusiveServer" in issue


def test_another_environments_role_name_is_refused() -> None:
    raw = raw_stack("staging")
    raw["registry"]["writerRole"] = "vllm_registry_writer_development"
    assert [i.split(":")[0] for i in _issues(raw)] == ["registry.writerRole"]


def test_the_environment_must_be_a_whole_word() -> None:
    raw = raw_stack("production")
    raw["registry"]["readerRole"] = "vllm_registry_reader_preproduction"
    assert [i.split(":")[0] for i in _issues(raw)] == ["registry.readerRole"]


def test_any_name_with_an_exclusive_server_or_unmanaged_roles() -> None:
    for extra in ({"exclusiveServer": True}, {"manageRoles": False}):
        raw = raw_stack("staging")
        raw["registry"].update({"writerRole": "writer", "readerRole": "reader", **extra})
        cfg = load_stack_config(raw, set()).config
        assert (cfg.writer_role, cfg.reader_role) == ("writer", "reader")


def test_writer_and_reader_must_differ_and_not_be_the_owner() -> None:
    raw = raw_stack("staging")
    raw["registry"].update({"writerRole": "rw_staging", "readerRole": "rw_staging"})
    assert [i.split(":")[0] for i in _issues(raw)] == ["registry.readerRole"]
    raw = raw_stack("staging")
    raw["registry"].update({"user": "owner_staging", "writerRole": "owner_staging"})
    assert [i.split(":")[0] for i in _issues(raw)] == ["registry.writerRole"]


def test_a_role_that_also_names_another_environment_is_refused() -> None:
    """development_production_writer would pass the rule in both stacks: one role, two owners."""
    raw = raw_stack("production")
    raw["registry"]["writerRole"] = "development_production_writer"
    with pytest.raises(ConfigError) as info:
        load_stack_config(raw)
    assert [i.path for i in info.value.issues] == ["registry.writerRole"]
    assert "names the environment 'development'" in str(info.value)
