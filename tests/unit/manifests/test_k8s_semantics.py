"""Which objects pulumi-kubernetes awaits, and which custom resources need an operator."""

from __future__ import annotations

from typing import Any

from components.manifests.k8s_semantics import (
    REPLACE_UNREADY_ANNOTATION,
    SKIP_AWAIT_ANNOTATION,
    awaits,
    crd_provider,
)


def _svc(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "m"}, "spec": spec}


def test_a_service_is_awaited_only_with_a_selector_and_a_cluster_ip() -> None:
    assert awaits(_svc(selector={"app": "m"}))
    assert not awaits(_svc(selector={"app": "m"}, clusterIP="None"))  # headless
    assert not awaits(_svc())  # no selector
    assert not awaits(_svc(type="ExternalName", externalName="db.example.com"))


def test_kinds_without_an_awaiter_and_skip_await_are_not_awaited() -> None:
    for kind in ("ConfigMap", "NetworkPolicy", "CronJob", "PodDisruptionBudget", "Namespace"):
        assert not awaits({"kind": kind, "metadata": {}})

    def job(annotation: str) -> dict[str, Any]:
        return {"kind": "Job", "metadata": {"annotations": {annotation: "true"}}}

    assert not awaits(job(SKIP_AWAIT_ANNOTATION))
    assert awaits(job(REPLACE_UNREADY_ANNOTATION))
    assert awaits({"kind": "StatefulSet", "metadata": {}})


def test_custom_resources_name_what_installs_their_crd() -> None:
    assert crd_provider({"apiVersion": "cert-manager.io/v1", "kind": "Certificate"})
    assert crd_provider({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress"}) is None
