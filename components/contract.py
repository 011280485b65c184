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
ENVIRONMENT_WORDS: Final = {
    "development": frozenset({"development", "dev"}),
    "staging": frozenset({"staging", "stage", "stg"}),
    "production": frozenset({"production", "prod", "prd"}),
}
"""The words that name an environment in a name (a namespace, a role, a stack)."""

VLLM_PORT: Final = 8000
"""The models' API port (``/v1``), served by the route allowlist in front of vLLM."""
METRICS_PORT: Final = 8002
"""The allowlist's ``/metrics`` port (monitoring only)."""
HEALTH_PORT: Final = 8003
"""The allowlist's ``/health`` port (the kubelet's probes and the health reporter)."""
VLLM_LOOPBACK_PORT: Final = 8001
"""Where vLLM itself listens: the pod's loopback, reachable only through the allowlist."""
VLLM_CONTAINER: Final = "vllm"
SERVER_COMPONENT: Final = "server"
"""``app.kubernetes.io/component`` of a model's server pods."""

NAME_LABEL: Final = "app.kubernetes.io/name"
COMPONENT_LABEL: Final = "app.kubernetes.io/component"
PART_OF_LABEL: Final = "app.kubernetes.io/part-of"
MANAGED_BY_LABEL: Final = "app.kubernetes.io/managed-by"
MANAGED_BY: Final = "pulumi"
ENVIRONMENT_LABEL: Final = "vllm-platform.io/environment"
# The revision a server pod serves (a hash of its image and model revision), set only on models
# with rollout.keepPrevious: the Service selects the served one among the kept and the new.
REVISION_LABEL: Final = "vllm-platform.io/revision"

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


# Tags that name a branch or a channel, not a release: they move to new content, in any case.
MOVING_TAG_WORDS: Final = frozenset(
    {"latest", "nightly", "main", "master", "dev", "develop", "edge", "head", "stable", "canary"}
    | {"rolling", "trunk", "unstable", "current", "snapshot", "release", "preview", "testing"}
)
_VERSION: Final = re.compile(r"[0-9]+\.[0-9]+")


def image_is_pinned(image: str) -> bool:
    """A digest, or a release tag: a version number (``v0.11.0``, ``3.10``) and no word of a
    moving tag (``latest``, ``nightly``, ``main``, ... in any case: ``Latest-cu128``)."""
    m = IMAGE_REFERENCE.match(image)
    if m is None:
        return False
    if m.group("digest"):
        return True
    tag = m.group("tag") or ""
    return bool(_VERSION.search(tag)) and not words_of(tag) & MOVING_TAG_WORDS


def words_of(name: str) -> frozenset[str]:
    """The lower-case words of ``name`` between ``-``, ``_``, ``.``, ``/`` and ``:``."""
    return frozenset(w for w in re.split(r"[-_./:]+", name.lower()) if w)


def environments_named(name: str) -> frozenset[str]:
    """The environments a name names by one of its words (``vllm-prod`` names production)."""
    words = words_of(name)
    return frozenset(env for env, named in ENVIRONMENT_WORDS.items() if words & named)
