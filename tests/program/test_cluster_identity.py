"""A stack attached to another stack's cluster follows that cluster's identity.

pulumi-kubernetes replaces its provider, and the engine every object under it, only when
``clusterIdentifier`` changes between two set values; adding or removing it is not a
replacement, and without one the provider compares the kubeconfig's active cluster
(``provider/pkg/provider/provider.go:486-502``, ``:541-560``; the engine's rule for the objects:
pulumi/pulumi ``step_generator.go:2800-2880``). ``provider_replaced`` below is that rule. The
program runs under mocks whose StackReference returns the development stack's ``clusterId``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
import yaml

from tests.support import harness
from tests.support.harness import FAKE_KUBECONFIG, committed_run, run_program, stack_file_config

pytestmark = pytest.mark.program

K8S_PROVIDER = "pulumi:providers:kubernetes"
STACK_REF = "pulumi:pulumi:StackReference"


def _active_server(inputs: Mapping[str, Any]) -> str:
    config = yaml.safe_load(str(inputs.get("kubeconfig") or "")) or {}
    context = {c["name"]: c["context"] for c in config.get("contexts", [])}.get(
        config.get("current-context"), {}
    )
    clusters = {c["name"]: c["cluster"] for c in config.get("clusters", [])}
    return str(clusters.get(context.get("cluster"), {}).get("server", ""))


def provider_replaced(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """pulumi-kubernetes ``DiffConfig``: replace on an identifier changed between two set
    values (only ``Updated`` counts, sdk ``properties_diff.go:44-47``, ``:211-230``); with the
    identifier unchanged, never; else when the kubeconfig's active cluster changed."""
    before, after = old.get("clusterIdentifier"), new.get("clusterIdentifier")
    if before is not None and after is not None:
        return bool(before != after)
    return _active_server(old) != _active_server(new)


def _reference(cluster_id: str, server: str) -> Callable[[Any], tuple[str, dict[str, Any]]]:
    """The development stack's outputs as the mocked StackReference returns them."""
    kubeconfig = FAKE_KUBECONFIG.replace("https://123456.us-ord-1", f"https://{server}.us-ord-1")
    real = harness._outputs_for

    def outputs(args: Any) -> tuple[str, dict[str, Any]]:
        ident, outs = real(args)
        if args.typ == STACK_REF:
            outs = {**outs, "outputs": {"kubeconfig": kubeconfig, "clusterId": cluster_id}}
        return ident, outs

    return outputs


def _staging_provider(
    monkeypatch: pytest.MonkeyPatch, cluster_id: str, server: str, **cluster: Any
) -> dict[str, Any]:
    monkeypatch.setattr(harness, "_outputs_for", _reference(cluster_id, server))
    overrides: dict[str, Any] = {}
    if cluster:
        overrides["cluster"] = {**stack_file_config("staging")["vllm-platform:cluster"], **cluster}
    run = run_program("staging", overrides=overrides)
    return run.one(K8S_PROVIDER).inputs


def test_the_committed_staging_stack_takes_its_identity_from_the_referenced_stack() -> None:
    run = committed_run("staging")
    ref = run.one(STACK_REF)
    assert run.one(K8S_PROVIDER).inputs["clusterIdentifier"] == ref.outputs["outputs"]["clusterId"]
    assert "clusterId" not in stack_file_config("staging")["vllm-platform:cluster"]


def test_a_replaced_development_cluster_replaces_stagings_kubernetes_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = _staging_provider(monkeypatch, "123456", "123456")
    after = _staging_provider(monkeypatch, "789012", "789012")
    assert provider_replaced(before, after)


def test_a_rotated_development_kubeconfig_only_updates_stagings_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = _staging_provider(monkeypatch, "123456", "123456")
    rotated = {**before, "kubeconfig": before["kubeconfig"].replace("kube-admin-token", "new")}
    assert rotated != before
    assert not provider_replaced(before, rotated)


def test_a_stack_deployed_with_a_literal_identity_moves_over_without_a_replacement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deployed = {"clusterIdentifier": "lke-vllm-nonprod", "kubeconfig": FAKE_KUBECONFIG}
    # The literal kept for one update: the provider drops its identifier (not a replacement) ...
    step1 = _staging_provider(monkeypatch, "123456", "123456", clusterId="lke-vllm-nonprod")
    assert "clusterIdentifier" not in step1
    assert not provider_replaced(deployed, step1)
    # ... a development cluster replaced meanwhile is still seen, from the kubeconfig ...
    moved = _staging_provider(monkeypatch, "789012", "789012", clusterId="lke-vllm-nonprod")
    assert provider_replaced(step1, moved)
    # ... and the literal removed afterwards: the identifier is added (not a replacement).
    step2 = _staging_provider(monkeypatch, "123456", "123456")
    assert step2["clusterIdentifier"] == "123456"
    assert not provider_replaced(step1, step2)
