"""Names and labels shared by every builder, so objects find each other deterministically."""

from __future__ import annotations

from components.config import PROJECT

__all__ = [
    "API_KEY_SECRET",
    "API_KEY_SECRET_KEY",
    "GPU_RESOURCE",
    "GPU_TAINT_KEY",
    "HF_TOKEN_SECRET",
    "HF_TOKEN_SECRET_KEY",
    "MANAGED_BY",
    "standard_labels",
]

# Kubernetes Secrets the namespace creates from Pulumi secrets; vLLM reads them via secretKeyRef.
HF_TOKEN_SECRET = "hf-token"
HF_TOKEN_SECRET_KEY = "token"
API_KEY_SECRET = "vllm-api-key"
API_KEY_SECRET_KEY = "api-key"

# The NVIDIA device plugin's extended resource, and the taint key put on GPU nodes.
GPU_RESOURCE = "nvidia.com/gpu"
GPU_TAINT_KEY = "nvidia.com/gpu"

MANAGED_BY = "pulumi"


def standard_labels(name: str, component: str, environment: str) -> dict[str, str]:
    """The app.kubernetes.io/* labels (as the vLLM production-stack chart sets them)."""
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PROJECT,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "vllm-platform.io/environment": environment,
    }
