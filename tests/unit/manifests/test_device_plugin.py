"""components/manifests/device_plugin.py: GPU enablement objects for each gpuEnablement choice."""

from __future__ import annotations

import re

import kubernetes_validate
import pytest

from components.config import ConfigError
from components.config.images import DEVICE_PLUGIN_IMAGE
from components.contract import DEVICE_PLUGIN_NAMESPACE, GPU_OPERATOR_NAMESPACE
from components.manifests.device_plugin import (
    device_plugin_objects,
    gpu_node_selector,
    gpu_operator_values,
    gpu_tolerations,
    runtime_class_name,
)
from tests.support.stackfiles import stack_config as stack


def test_create_mode_defaults_to_the_device_plugin_in_a_privileged_namespace() -> None:
    ns, ds = device_plugin_objects(stack("production"))
    assert ns["kind"] == "Namespace" and ns["metadata"]["name"] == DEVICE_PLUGIN_NAMESPACE
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert ds["kind"] == "DaemonSet" and ds["metadata"]["namespace"] == DEVICE_PLUGIN_NAMESPACE


def test_device_plugin_image_is_a_pinned_release_from_nvcr() -> None:
    _, ds = device_plugin_objects(stack("production"))
    (container,) = ds["spec"]["template"]["spec"]["containers"]
    assert container["image"] == DEVICE_PLUGIN_IMAGE
    assert re.fullmatch(
        r"nvcr\.io/nvidia/k8s-device-plugin:v\d+\.\d+\.\d+@sha256:[0-9a-f]{64}",
        DEVICE_PLUGIN_IMAGE,
    )


def test_device_plugin_runs_only_on_gpu_nodes_and_tolerates_their_taint() -> None:
    cfg = stack(
        "development",
        gpuPool={
            "type": "g2-gpu-rtx4000a1-m",
            "count": 2,
            "nodeLabels": {"example.com/accel": "rtx4000"},
        },
    )
    _, ds = device_plugin_objects(cfg)
    pod = ds["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"example.com/accel": "rtx4000"} == gpu_node_selector(cfg)
    assert (
        pod["tolerations"]
        == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
        == gpu_tolerations()
    )
    assert "runtimeClassName" not in pod


def test_device_plugin_is_least_privileged_apart_from_its_hostpath() -> None:
    _, ds = device_plugin_objects(stack("production"))
    pod = ds["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
    # what it cannot meet (root, no probes) is skipped on this object only, each with a reason
    skips = [v for k, v in ds["metadata"]["annotations"].items() if k.startswith("checkov.io/skip")]
    assert sorted(s.split("=")[0] for s in skips) == [
        "CKV_K8S_23",
        "CKV_K8S_40",
        "CKV_K8S_8",
        "CKV_K8S_9",
    ]
    assert [v["hostPath"]["path"] for v in pod["volumes"]] == ["/var/lib/kubelet/device-plugins"]
    assert (
        ds["spec"]["selector"]["matchLabels"].items()
        <= ds["spec"]["template"]["metadata"]["labels"].items()
    )


@pytest.mark.parametrize("enablement", ["device-plugin", "gpu-operator", "none"])
def test_objects_validate_strictly(enablement: str) -> None:
    cfg = stack("production", gpuEnablement=enablement)
    for obj in device_plugin_objects(cfg):
        kubernetes_validate.validate(obj, desired_version="1.33.0", strict=True)


def test_gpu_operator_gets_its_namespace_and_the_nvidia_runtime_class() -> None:
    cfg = stack("production", gpuEnablement="gpu-operator")
    (ns,) = device_plugin_objects(cfg)
    assert ns["metadata"]["name"] == GPU_OPERATOR_NAMESPACE
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert runtime_class_name(cfg) == "nvidia"
    assert gpu_operator_values() == {"driver": {"enabled": False}, "toolkit": {"enabled": False}}


def test_attached_clusters_enable_nothing_and_assume_no_runtime_class() -> None:
    cfg = stack("staging")
    assert device_plugin_objects(cfg) == []
    assert runtime_class_name(cfg) is None
    assert runtime_class_name(stack("production")) is None


@pytest.mark.parametrize("enablement", ["device-plugin", "gpu-operator"])
def test_a_cluster_another_stack_created_gets_no_second_gpu_enablement(enablement: str) -> None:
    """The stack that creates the cluster enables its GPUs; a second device plugin or Helm
    release of the same names would fail on create or, upserted, be taken over (and removed
    by this stack's destroy)."""
    with pytest.raises(ConfigError) as info:
        stack("staging", gpuEnablement=enablement)
    assert [i.path for i in info.value.issues] == ["cluster.gpuEnablement"]


def test_a_cluster_of_a_kubeconfig_may_opt_in_to_the_device_plugin() -> None:
    cfg = stack("development", mode="kubeconfig", kubeconfigPath="~/.kube/c", context="c")
    assert cfg.cluster.gpu_enablement_resolved == "none"
    cfg = stack(
        "development",
        mode="kubeconfig",
        kubeconfigPath="~/.kube/c",
        context="c",
        gpuEnablement="device-plugin",
    )
    assert [o["kind"] for o in device_plugin_objects(cfg)] == ["Namespace", "DaemonSet"]
