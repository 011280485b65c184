"""`ops plan` says what the machine running `pulumi up` must reach, per stack."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from components.config import load_stack_config
from ops.plan_report import format_plan
from ops.reach import hosted_runner_can_deploy, reach_lines, registry_is_private
from ops.stack import load_offline
from tests.support.stackfiles import committed_stack_files, raw_stack, stack_config


def plan_text(stack: str) -> str:
    offline = load_offline(argparse.Namespace(stack=stack, file=None))
    return format_plan(offline.loaded, offline.plan, offline.path.name)


def config(stack: str, **changes: Any) -> Any:
    raw = raw_stack(stack)
    for key, value in changes.items():
        section, field = key.split("__")
        if value is None:
            raw[section].pop(field, None)
        else:
            raw[section][field] = value
    return load_stack_config(raw, set()).config


def test_production_names_the_linode_api_the_acl_and_the_registry_host() -> None:
    text = plan_text("production")
    block = text[text.index("must reach:") :].split("\n\n", 1)[0]
    assert "https://api.linode.com:443" in block
    assert "203.0.113.0/24 (cluster.controlPlaneAcl)" in block
    assert "egress address must be in that range" in block
    assert "registry-db.internal.example.com:5432 (sslmode verify-full)" in block
    assert "reachable only inside its network" in block
    assert "A GitHub-hosted runner cannot" in block
    assert "DEPLOY_RUNNER_PRODUCTION" in block


def test_staging_attaches_so_it_needs_no_linode_api() -> None:
    text = plan_text("staging")
    assert "api.linode.com" not in text
    assert "API server of the cluster stack" in text


def test_a_public_registry_without_acl_is_reachable_from_a_hosted_runner() -> None:
    cfg = config("development", registry__host="db.example.com")
    assert not registry_is_private(cfg)
    assert hosted_runner_can_deploy(cfg)
    lines = reach_lines(cfg)
    assert lines[-1] == "  A GitHub-hosted runner can reach all of these."
    assert "no control-plane ACL" in "\n".join(lines)


def test_an_acl_alone_keeps_a_hosted_runner_out() -> None:
    cfg = config(
        "development", registry__host="db.example.com", cluster__controlPlaneAcl=["198.51.100.0/24"]
    )
    assert not hosted_runner_can_deploy(cfg)


@pytest.mark.parametrize(
    ("host", "private"),
    [
        ("registry-db.internal.example.com", True),
        ("registry-postgresql.registry.svc.cluster.local", True),
        ("10.0.3.4", True),
        ("192.168.1.10", True),
        ("registry", True),
        ("db.example.com", False),
        ("45.79.0.10", False),
    ],
)
def test_private_registry_hosts(host: str, private: bool) -> None:
    assert registry_is_private(config("development", registry__host=host)) is private


def test_every_committed_stack_has_the_section() -> None:
    for path in committed_stack_files():
        if path.name == "Pulumi.yaml":
            continue
        stack = path.name[len("Pulumi.") : -len(".yaml")]
        assert "must reach:" in plan_text(stack)
        assert stack_config(stack) is not None
