"""The image pre-puller as the program registers it (#17)."""

from __future__ import annotations

import pytest

from components.config.source import load_from_stack_file
from components.manifests.prepull import image_prepuller
from components.planning.timing import image_pull_budget_seconds
from components.resources.prepull import TYPE_TOKEN
from tests.support.harness import committed_run, run_program
from tests.support.stackfiles import ROOT, STACKS

pytestmark = pytest.mark.program

DAEMONSET = "kubernetes:apps/v1:DaemonSet"


@pytest.mark.parametrize("stack", STACKS)
def test_the_prepuller_registers_exactly_the_builder_daemonset(stack: str) -> None:
    run = committed_run(stack)
    cfg = load_from_stack_file(ROOT / f"Pulumi.{stack}.yaml").config
    expected = image_prepuller(cfg)
    assert expected is not None
    (component,) = run.by_type(TYPE_TOKEN)
    (ds,) = [r for r in run.by_type(DAEMONSET) if r.parent == component.urn]
    assert ds.inputs["spec"] == expected["spec"]
    assert ds.inputs["metadata"] == expected["metadata"]
    (provider,) = [r for r in run.resources if r.typ == "pulumi:providers:kubernetes"]
    assert ds.provider == f"{provider.urn}::{provider.id}"
    # It waits for the namespace, and Pulumi allows the nodes time to pull the images.
    namespace = next(
        r
        for r in run.resources
        if r.typ == "kubernetes:core/v1:Namespace" and r.k8s_name == cfg.namespace_name
    )
    assert namespace.urn in ds.dependencies
    minutes = f"{-(-image_pull_budget_seconds(cfg.timing) // 60)}m"
    assert ds.custom_timeouts["create"] == ds.custom_timeouts["update"] == minutes


def test_switching_the_prepuller_off_registers_nothing() -> None:
    run = run_program("production", overrides={"timing": {"prePullImages": False}})
    assert run.by_type(TYPE_TOKEN) == []
    assert all("prepuller" not in r.urn for r in run.resources)
