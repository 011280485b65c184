"""Facts shared by the program and the policy pack: stdlib only, defined once.

``policy/rules.py`` imports these instead of copying them, so the pack recognises exactly the
objects the builders produce. Nothing here may import from ``components`` or a third party.
"""

from __future__ import annotations

import re
from typing import Final

PROJECT: Final = "vllm-platform"
"""The Pulumi project name, the config namespace (``vllm-platform:*``) and the part-of label."""
ENVIRONMENTS: Final = ("development", "staging", "production")
PINNED_ENVIRONMENTS: Final = frozenset({"staging", "production"})
"""Environments whose images and model revisions must be pinned."""

VLLM_PORT: Final = 8000
VLLM_CONTAINER: Final = "vllm"
SERVER_COMPONENT: Final = "server"
"""``app.kubernetes.io/component`` of a model's server pods."""

NAME_LABEL: Final = "app.kubernetes.io/name"
COMPONENT_LABEL: Final = "app.kubernetes.io/component"
PART_OF_LABEL: Final = "app.kubernetes.io/part-of"
MANAGED_BY_LABEL: Final = "app.kubernetes.io/managed-by"
MANAGED_BY: Final = "pulumi"
ENVIRONMENT_LABEL: Final = "vllm-platform.io/environment"

ALLOW_DOWNTIME_ANNOTATION: Final = "vllm-platform.io/allow-downtime"
ROUTING_ANNOTATION: Final = "vllm-platform.io/routing-enabled"
ACCELERATOR_ANNOTATION: Final = "vllm-platform.io/accelerator"
CPU_MODE_ENV: Final = "VLLM_CPU_KVCACHE_SPACE"
"""Set on a vLLM container exactly when it runs in CPU mode."""

# The NVIDIA device plugin's extended resource, and the taint put on GPU nodes.
GPU_RESOURCE: Final = "nvidia.com/gpu"
GPU_TAINT_KEY: Final = "nvidia.com/gpu"
GPU_TAINT_VALUE: Final = "present"

# Namespaces of the GPU enablement (privileged Pod Security: the device plugin needs a hostPath).
DEVICE_PLUGIN_NAMESPACE: Final = "nvidia-device-plugin"
GPU_OPERATOR_NAMESPACE: Final = "gpu-operator"
RESERVED_NAMESPACES: Final = frozenset(
    {
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        DEVICE_PLUGIN_NAMESPACE,
        GPU_OPERATOR_NAMESPACE,
    }
)
"""Namespaces the environment's may not be: it is labelled ``restricted`` and gets a default-deny
ingress policy, which would cut CoreDNS off in kube-system or the GPU plugin's hostPath. Names
starting ``kube-`` are reserved by Kubernetes for system namespaces as well."""

# An OCI image reference: [registry/]repository[:tag][@sha256:digest]
IMAGE_REFERENCE: Final = re.compile(
    r"^(?P<repo>[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*)"
    r"(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


def image_is_pinned(image: str) -> bool:
    """A digest, or a version tag other than ``latest``."""
    m = IMAGE_REFERENCE.match(image)
    if m is None:
        return False
    if m.group("digest"):
        return True
    tag = m.group("tag")
    return bool(tag) and tag != "latest"
