"""GPU enablement: what makes ``nvidia.com/gpu`` schedulable on the GPU nodes (pure builders).

``cluster.gpuEnablement``: ``device-plugin`` (NVIDIA's device plugin as a plain DaemonSet in its
own privileged namespace), ``gpu-operator`` (NVIDIA's GPU Operator Helm chart; the namespace is
built here) or ``none`` (the cluster's owner enabled GPUs). Why: docs/architecture.md, "GPU
enablement".
"""

from __future__ import annotations

from typing import Any

from components.config import StackConfig
from components.config.images import DEVICE_PLUGIN_IMAGE
from components.contract import (
    DEVICE_PLUGIN_NAMESPACE,
    GPU_OPERATOR_NAMESPACE,
    GPU_TAINT_KEY,
    NAME_LABEL,
)
from components.manifests.toolkit import metadata, standard_labels

# The image is a released tag pinned by digest (components/config/images.py); bump deliberately.
# The plugin mounts the kubelet's device-plugins directory from the host. hostPath volumes are
# forbidden by the baseline and restricted Pod Security levels, so the plugin cannot live in the
# (restricted) environment namespace; it gets its own namespace labelled `privileged`, which keeps
# that exemption to this one DaemonSet instead of loosening kube-system or the vLLM namespace.
_DEVICE_PLUGIN_NAME = "nvidia-device-plugin"
_DEVICE_PLUGIN_SOCKETS = "/var/lib/kubelet/device-plugins"

GPU_OPERATOR_CHART = "gpu-operator"
GPU_OPERATOR_REPO = "https://helm.ngc.nvidia.com/nvidia"
GPU_OPERATOR_VERSION = "v25.3.4"


def gpu_node_selector(cfg: StackConfig) -> dict[str, str]:
    """The labels GPU nodes carry (put there in create mode, expected there otherwise)."""
    return dict(cfg.cluster.gpu.node_labels)


def gpu_tolerations() -> list[dict[str, str]]:
    """Tolerate the GPU taint whatever its value, as NVIDIA's own manifests do."""
    return [{"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}]


def runtime_class_name(cfg: StackConfig) -> str | None:
    """``nvidia`` only when the GPU Operator (which creates that RuntimeClass) is installed."""
    return "nvidia" if cfg.cluster.gpu_enablement_resolved == "gpu-operator" else None


def _privileged_namespace(name: str, component: str, cfg: StackConfig) -> dict[str, Any]:
    version = f"v{cfg.cluster.k8s_version}"
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": metadata(
            name,
            None,
            {
                **standard_labels(name, component, cfg.environment),
                "pod-security.kubernetes.io/enforce": "privileged",
                "pod-security.kubernetes.io/enforce-version": version,
            },
        ),
    }


def _device_plugin_container() -> dict[str, Any]:
    return {
        "name": "nvidia-device-plugin",
        "image": DEVICE_PLUGIN_IMAGE,
        "env": [{"name": "FAIL_ON_INIT_ERROR", "value": "false"}],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            # It writes only its socket, into the hostPath mount.
            "readOnlyRootFilesystem": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "resources": {
            "requests": {"cpu": "10m", "memory": "32Mi"},
            "limits": {"memory": "128Mi"},
        },
        "volumeMounts": [{"name": "device-plugins", "mountPath": _DEVICE_PLUGIN_SOCKETS}],
    }


def _device_plugin_pod_spec(cfg: StackConfig) -> dict[str, Any]:
    return {
        "nodeSelector": gpu_node_selector(cfg),
        "tolerations": gpu_tolerations(),
        # Critical add-on: evicted last, scheduled first (allowed outside
        # kube-system since Kubernetes 1.17).
        "priorityClassName": "system-node-critical",
        "automountServiceAccountToken": False,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [_device_plugin_container()],
        "volumes": [
            {
                "name": "device-plugins",
                "hostPath": {"path": _DEVICE_PLUGIN_SOCKETS, "type": "Directory"},
            }
        ],
    }


# The checks the DaemonSet cannot meet, each with its reason (checkov reads these).
_CHECKOV_SKIPS = {
    "checkov.io/skip1": "CKV_K8S_23=must run as root: it creates its socket in the "
    "kubelet's root-owned /var/lib/kubelet/device-plugins",
    "checkov.io/skip2": "CKV_K8S_40=runs as root (see CKV_K8S_23)",
    "checkov.io/skip3": "CKV_K8S_8=the device plugin serves no health endpoint; the "
    "kubelet re-registers it when its socket disappears",
    "checkov.io/skip4": "CKV_K8S_9=no readiness endpoint (see CKV_K8S_8); a DaemonSet "
    "pod receives no traffic",
}


def _device_plugin_daemonset(cfg: StackConfig) -> dict[str, Any]:
    labels = standard_labels(_DEVICE_PLUGIN_NAME, "gpu-enablement", cfg.environment)
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": metadata(
            _DEVICE_PLUGIN_NAME, DEVICE_PLUGIN_NAMESPACE, labels, dict(_CHECKOV_SKIPS)
        ),
        "spec": {
            "selector": {"matchLabels": {NAME_LABEL: _DEVICE_PLUGIN_NAME}},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": labels},
                "spec": _device_plugin_pod_spec(cfg),
            },
        },
    }


def device_plugin_objects(cfg: StackConfig) -> list[dict[str, Any]]:
    """The cluster-level Kubernetes objects GPU enablement needs, in creation order.

    ``device-plugin``: its namespace and DaemonSet. ``gpu-operator``: the operator's namespace
    (the chart itself is a Helm release, see ``gpu_operator_values``). ``none``: nothing.
    """
    mode = cfg.cluster.gpu_enablement_resolved
    if mode == "device-plugin":
        return [
            _privileged_namespace(DEVICE_PLUGIN_NAMESPACE, "gpu-enablement", cfg),
            _device_plugin_daemonset(cfg),
        ]
    if mode == "gpu-operator":
        return [_privileged_namespace(GPU_OPERATOR_NAMESPACE, "gpu-enablement", cfg)]
    return []


def gpu_operator_values() -> dict[str, Any]:
    """Helm values for the GPU Operator on LKE: the nodes' own driver and toolkit are kept.

    The chart's operands already tolerate the ``nvidia.com/gpu`` taint by default.
    """
    return {"driver": {"enabled": False}, "toolkit": {"enabled": False}}
