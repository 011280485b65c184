"""policy/objects.py: how the pack recognises the platform's vLLM servers."""

from __future__ import annotations

from policy import objects
from tests.unit.policy.support import (
    DEPLOYMENT,
    STATEFULSET,
    container,
    server,
)

# ----------------------------------------------------------------------------- recognition


def test_a_server_is_recognised_by_labels_or_by_a_vllm_container() -> None:
    by_labels = server()
    container(by_labels)["name"] = "server"
    assert objects.vllm_workload(STATEFULSET, by_labels) is not None
    by_container = server()
    by_container["spec"]["template"]["metadata"]["labels"] = {}
    assert objects.vllm_workload(DEPLOYMENT, by_container) is not None
    other = server()
    other["spec"]["template"]["metadata"]["labels"] = {"app": "router"}
    container(other)["name"] = "router"
    assert objects.vllm_workload(DEPLOYMENT, other) is None
    assert objects.vllm_workload("kubernetes:apps/v1:DaemonSet", server()) is None


def test_environment_comes_from_the_label_then_the_namespace() -> None:
    w = objects.vllm_workload(STATEFULSET, server("staging"))
    assert w is not None and objects.environment_of(w) == "staging"
    unlabelled = server("development")
    unlabelled["spec"]["template"]["metadata"]["labels"].pop("vllm-platform.io/environment")
    unlabelled["metadata"]["labels"].pop("vllm-platform.io/environment")
    w = objects.vllm_workload(STATEFULSET, unlabelled)
    assert w is not None and objects.environment_of(w) == "development"
    unlabelled["metadata"]["namespace"] = "models"
    w = objects.vllm_workload(STATEFULSET, unlabelled)
    assert w is not None and objects.environment_of(w) is None
