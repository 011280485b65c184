"""The image pre-puller: every GPU node holds the stack's vLLM images before a replica needs them.

A DaemonSet on the GPU nodes, one init container per distinct vLLM image (``/bin/true``), then an
idle pause container; no GPU, restricted security, one per namespace. Why and what it does not
do: docs/time-to-ready.md, "The image on the node".
"""

from __future__ import annotations

from typing import Any, Final

from components.config import StackConfig
from components.config.images import PAUSE_IMAGE
from components.contract import NAME_LABEL
from components.manifests.device_plugin import gpu_node_selector, gpu_tolerations
from components.manifests.toolkit import (
    container_security_context,
    pod_security_context,
    standard_labels,
)

PREPULLER_NAME: Final = "vllm-image-prepuller"
_COMPONENT: Final = "image-prepuller"
_TINY: Final = {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}}


def prepull_images(cfg: StackConfig) -> list[str]:
    """The distinct images of the stack's GPU models, in config order."""
    return list(dict.fromkeys(m.image for m in cfg.models if m.accelerator == "gpu"))


def _puller(index: int, image: str) -> dict[str, Any]:
    return {
        "name": f"pull-{index}",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/true"],
        # Not every GPU of the node (NVIDIA's runtime would expose them all): docs/time-to-ready.md.
        "env": [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"}],
        "resources": _TINY,
        "securityContext": container_security_context(),
    }


def image_prepuller(cfg: StackConfig) -> dict[str, Any] | None:
    """The DaemonSet, or ``None`` when switched off or when no model runs on GPUs."""
    images = prepull_images(cfg)
    if not cfg.timing.pre_pull_images or not images:
        return None
    selector = {NAME_LABEL: PREPULLER_NAME}
    labels = standard_labels(PREPULLER_NAME, _COMPONENT, cfg.environment)
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": PREPULLER_NAME,
            "namespace": cfg.namespace_name,
            "labels": labels,
            "annotations": {
                "checkov.io/skip1": "CKV_K8S_8=the pause container has no endpoint to probe; "
                "the pod only exists to make the node pull the images",
                "checkov.io/skip2": "CKV_K8S_9=no readiness endpoint (see CKV_K8S_8); the pod "
                "receives no traffic",
            },
        },
        "spec": {
            "selector": {"matchLabels": selector},
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "100%"},
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": gpu_node_selector(cfg),
                    "tolerations": gpu_tolerations(),
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": pod_security_context(),
                    "terminationGracePeriodSeconds": 5,
                    "initContainers": [_puller(i, img) for i, img in enumerate(images)],
                    "containers": [
                        {
                            "name": "pause",
                            "image": PAUSE_IMAGE,
                            "imagePullPolicy": "IfNotPresent",
                            "resources": _TINY,
                            "securityContext": container_security_context(),
                        }
                    ],
                },
            },
        },
    }
