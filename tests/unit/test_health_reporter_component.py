"""HealthReporter registers exactly the builder's objects, as children, with a secret password."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.config import StackConfig
from components.config_source import load_from_stack_file
from components.health_reporter import (
    HealthReporter,
    HealthReporterArgs,
    HealthReporterSettings,
    health_reporter_objects,
)

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "writer-pw-Kd3#pL"
SECRET_SIG = rpc._special_sig_key  # the wire marker of a secret value


@dataclass
class Registration:
    typ: str
    name: str
    parent: str
    provider: str
    inputs: dict[str, Any]
    additional_secret_outputs: list[str]


class _Mocks(pulumi.runtime.Mocks):
    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class _Monitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registered: list[Registration] = []
        self.urns: dict[str, str] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        self.urns[request.name] = response.urn
        self.registered.append(
            Registration(
                typ=request.type,
                name=request.name,
                parent=request.parent,
                provider=request.provider,
                inputs=rpc.deserialize_properties(request.object, keep_unknowns=True),
                additional_secret_outputs=list(request.additionalSecretOutputs),
            )
        )
        return response


def _cfg() -> StackConfig:
    return load_from_stack_file(ROOT / "Pulumi.staging.yaml").config


def _register(settings: HealthReporterSettings) -> _Monitor:
    mocks = _Mocks()
    monitor = _Monitor(mocks)
    pulumi_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(
        mocks, project="vllm-platform", stack="staging", preview=False, monitor=monitor
    )

    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        HealthReporter(
            "health-reporter",
            HealthReporterArgs(
                config=_cfg(),
                settings=settings,
                writer_password=pulumi.Output.secret(PASSWORD),
                namespace=pulumi.Output.from_input("vllm-staging"),
            ),
            pulumi.ResourceOptions(provider=provider),
        )

    _sync_await(run_pulumi_func(program))
    return monitor


def _unwrap_secret(value: Any) -> Any:
    if isinstance(value, dict) and SECRET_SIG in value:
        return value["value"]
    return value


@pytest.fixture(scope="module")
def monitor() -> _Monitor:
    return _register(HealthReporterSettings())


def test_the_component_registers_exactly_the_builder_objects(monitor: _Monitor) -> None:
    expected = health_reporter_objects(_cfg(), HealthReporterSettings())
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


def test_children_are_parented_named_and_use_the_given_provider(monitor: _Monitor) -> None:
    component = monitor.urns["health-reporter"]
    assert component.endswith("vllm-platform:serving:HealthReporter::health-reporter")
    children = [r for r in monitor.registered if r.typ.startswith("kubernetes:")]
    assert {r.name for r in children} == {
        "health-reporter-config",
        "health-reporter-registry-secret",
        "health-reporter-network-policy",
        "health-reporter-cronjob",
    }
    for r in children:
        assert r.parent == component
        assert r.provider.startswith(monitor.urns["k8s"])


def test_the_secret_carries_the_real_password_as_a_secret(monitor: _Monitor) -> None:
    [secret] = [r for r in monitor.registered if r.typ == "kubernetes:core/v1:Secret"]
    raw = secret.inputs["stringData"]
    assert isinstance(raw, dict) and SECRET_SIG in raw  # marked secret on the wire
    assert _unwrap_secret(raw) == {"password": PASSWORD}
    assert {"data", "stringData"} <= set(secret.additional_secret_outputs)
    others = [r for r in monitor.registered if r.typ.startswith("kubernetes:") and r is not secret]
    assert all(PASSWORD not in repr(r.inputs) for r in others)


def test_disabled_registers_only_the_component() -> None:
    registered = _register(HealthReporterSettings(enabled=False)).registered
    assert [r.typ for r in registered if r.typ.startswith("kubernetes:")] == []
