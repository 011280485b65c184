"""HealthReporter registers exactly the builder's objects, as children, with a secret password."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.config import StackConfig
from components.config.source import load_from_stack_file
from components.manifests.health_reporter import health_reporter_objects
from components.resources.health_reporter import HealthReporter, HealthReporterArgs
from tests.support.harness import Registered, mocked_run
from tests.support.stackfiles import (
    ROOT,
    with_reporter,
)

PASSWORD = "writer-pw-Kd3#pL"


@dataclass
class Run:
    registered: list[Registered]
    urns: dict[str, str]


def _cfg() -> StackConfig:
    return load_from_stack_file(ROOT / "Pulumi.staging.yaml").config


def _register(cfg: StackConfig) -> Run:
    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        HealthReporter(
            "health-reporter",
            HealthReporterArgs(
                objects=health_reporter_objects(cfg),
                writer_password=pulumi.Output.secret(PASSWORD),
                namespace=pulumi.Output.from_input("vllm-staging"),
            ),
            pulumi.ResourceOptions(provider=provider),
        )

    monitor = mocked_run(program, stack="staging")
    return Run(monitor.registered, {r.name: r.urn for r in monitor.registered})


@pytest.fixture(scope="module")
def monitor() -> Run:
    return _register(_cfg())


def test_the_component_registers_exactly_the_builder_objects(monitor: Run) -> None:
    expected = health_reporter_objects(_cfg())
    # Registration order is asynchronous: match by kind (each kind appears once).
    children = {
        r.typ.rsplit(":", 1)[-1]: r for r in monitor.registered if r.typ.startswith("kubernetes:")
    }
    assert sorted(children) == sorted(o["kind"] for o in expected)
    for obj in expected:
        reg = children[obj["kind"]]
        if obj["kind"] == "Secret":
            assert {k: v for k, v in reg.inputs.items() if k != "stringData"} == {
                k: v for k, v in obj.items() if k != "stringData"
            }
        else:
            assert reg.inputs == obj


def test_children_are_parented_named_and_use_the_given_provider(monitor: Run) -> None:
    component = monitor.urns["health-reporter"]
    assert component.endswith("vllm-platform:serving:HealthReporter::health-reporter")
    children = [r for r in monitor.registered if r.typ.startswith("kubernetes:")]
    assert {r.name for r in children} == {
        "health-reporter-configmap",
        "health-reporter-secret-registry",
        "health-reporter-networkpolicy",
        "health-reporter-cronjob",
    }
    for r in children:
        assert r.parent == component
        assert r.provider.startswith(monitor.urns["k8s"])


def test_renamed_children_alias_their_previous_names(monitor: Run) -> None:
    """0.1.0 named these children by a table of suffixes; the aliases adopt live objects."""
    by_name = {r.name: r for r in monitor.registered}
    for new, old in [
        ("health-reporter-configmap", "health-reporter-config"),
        ("health-reporter-secret-registry", "health-reporter-registry-secret"),
        ("health-reporter-networkpolicy", "health-reporter-network-policy"),
    ]:
        reg = by_name[new]
        assert reg.urn.replace(f"::{new}", f"::{old}") in reg.aliases
    cron = by_name["health-reporter-cronjob"]  # its name did not change: no rename alias
    assert all(a.endswith("::health-reporter-cronjob") for a in cron.aliases)


def test_the_secret_carries_the_real_password_as_a_secret(monitor: Run) -> None:
    [secret] = [r for r in monitor.registered if r.typ == "kubernetes:core/v1:Secret"]
    assert "stringData" in secret.secret_inputs  # marked secret on the wire
    assert secret.inputs["stringData"] == {"password": PASSWORD}
    assert {"data", "stringData"} <= set(secret.additional_secret_outputs)
    others = [r for r in monitor.registered if r.typ.startswith("kubernetes:") and r is not secret]
    assert all(PASSWORD not in repr(r.inputs) for r in others)


def test_disabled_registers_only_the_component() -> None:
    registered = _register(with_reporter(_cfg(), enabled=False)).registered
    assert [r.typ for r in registered if r.typ.startswith("kubernetes:")] == []
