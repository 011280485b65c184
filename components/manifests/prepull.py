"""The image pre-puller: every GPU node holds the stack's vLLM images before a replica needs them.

When the autoscaler adds a GPU node, or a rollback moves a replica to a node that never ran its
image, the kubelet first pulls the multi-GB vLLM image. This DaemonSet runs on every GPU node
(the pool's node labels, tolerating the GPU taint) with one init container per distinct vLLM
image of the stack's GPU models; each runs ``/bin/true`` and exits, so the only effect is that
the node pulled the image. Then a pause container idles at a few MiB so the DaemonSet stays
ready (and Kubernetes' image garbage collection sees the images in use only while they run:
the pause container keeps the pod, not the images; a node under disk pressure may still evict
an image, which the next rollout pulls again).

- Restricted Pod Security (non-root, no capabilities, read-only root, RuntimeDefault seccomp),
  tiny requests, no GPU request: it never competes with a replica for a GPU.
- ``NVIDIA_VISIBLE_DEVICES=void``: CUDA images set ``NVIDIA_VISIBLE_DEVICES=all`` and LKE GPU
  nodes run NVIDIA's runtime by default, which would otherwise expose every GPU of the node to
  a container that requested none (NVIDIA Container Toolkit docs, "Environment variables":
  ``void`` behaves like runc).
- One per stack, in the environment's namespace, so two stacks sharing a cluster (development
  and staging) each pull their own images without owning the other's object.
- ``maxUnavailable: 100%``: an image change re-pulls on every node at once; these pods serve
  nothing, so none of them needs to stay up during the rollout.
"""

from __future__ import annotations

from typing import Any, Final

from components.config import StackConfig
from components.config.images import PAUSE_IMAGE
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
        "env": [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"}],
        "resources": _TINY,
        "securityContext": container_security_context(),
    }


def image_prepuller(cfg: StackConfig) -> dict[str, Any] | None:
    """The DaemonSet, or ``None`` when switched off or when no model runs on GPUs."""
    images = prepull_images(cfg)
    if not cfg.timing.pre_pull_images or not images:
        return None
    selector = {"app.kubernetes.io/name": PREPULLER_NAME}
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
