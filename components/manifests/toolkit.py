"""The one toolkit every builder uses: the manifest type, metadata, labels, selectors, security
contexts, the redaction placeholder, and the Secret names vLLM reads.

Label keys, the GPU resource and the taint come from ``components.contract`` (shared with the
policy pack); this module only assembles them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, Literal

from components.contract import (
    COMPONENT_LABEL,
    ENVIRONMENT_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    NAME_LABEL,
    PART_OF_LABEL,
    PROJECT,
)

Manifest = dict[str, Any]
"""A Kubernetes object (or part of one) as plain JSON-shaped data."""

ASSETS_DIR: Final = Path(__file__).parent / "assets"
"""The scripts and SQL that run in containers, as files (``make lint`` lints each one)."""
Asset = Literal[
    "reporter.sh", "report.sql", "smoke.sh", "fetch_weights.py", "allowlist.cfg", "stage_weights.py"
]

REDACTED: Final = "REDACTED"
"""What ``ops render`` writes instead of a secret value."""

# Kubernetes Secrets the namespace creates from Pulumi secrets; vLLM reads them via secretKeyRef.
HF_TOKEN_SECRET: Final = "hf-token"
HF_TOKEN_SECRET_KEY: Final = "token"
API_KEY_SECRET: Final = "vllm-api-key"
API_KEY_SECRET_KEY: Final = "api-key"
# The stack's Object Storage key (weightSource.kind: objectStorage), from the key's outputs,
# and the S3 endpoint URL, from the bucket's s3_endpoint output.
WEIGHTS_SECRET: Final = "weights-object-storage"
WEIGHTS_SECRET_ACCESS_KEY: Final = "access-key-id"
WEIGHTS_SECRET_SECRET_KEY: Final = "secret-access-key"
WEIGHTS_SECRET_ENDPOINT_KEY: Final = "endpoint-url"

NAMESPACE_LABEL: Final = "kubernetes.io/metadata.name"
"""Kubernetes sets it on every namespace to the namespace's name (what namespaceSelectors match)."""

NON_ROOT_ID: Final = 10001
"""UID and GID every container of ours runs as (the restricted Pod Security level)."""


def read_asset(name: Asset) -> str:
    """An asset's exact text: what the builders put in a ConfigMap or a container command."""
    return (ASSETS_DIR / name).read_text(encoding="utf-8")


def standard_labels(name: str, component: str, environment: str) -> dict[str, str]:
    """The app.kubernetes.io/* labels (as the vLLM production-stack chart sets them)."""
    return {
        NAME_LABEL: name,
        COMPONENT_LABEL: component,
        PART_OF_LABEL: PROJECT,
        MANAGED_BY_LABEL: MANAGED_BY,
        ENVIRONMENT_LABEL: environment,
    }


def selector(name: str, component: str) -> dict[str, str]:
    """The stable label subset that selects an app's pods (selectors are immutable)."""
    return {NAME_LABEL: name, COMPONENT_LABEL: component}


def metadata(
    name: str,
    namespace: str | None,
    labels: dict[str, str],
    annotations: dict[str, str] | None = None,
) -> Manifest:
    """``metadata`` of an object: ``namespace`` None for cluster-scoped objects."""
    meta: Manifest = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return meta


def opaque_secret(meta: Manifest, string_data: dict[str, str]) -> Manifest:
    """An ``Opaque`` Secret with ``stringData`` (the resources layer swaps in the real values)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": "Opaque",
        "stringData": string_data,
    }


def dns_egress() -> Manifest:
    """A NetworkPolicy egress rule to the cluster's DNS (kube-system), UDP and TCP port 53."""
    return {
        "to": [{"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: "kube-system"}}}],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }


def container_security_context() -> Manifest:
    """The restricted Pod Security level's container settings, read-only root, UID 10001."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": NON_ROOT_ID,
        "runAsGroup": NON_ROOT_ID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security_context() -> Manifest:
    return {
        "runAsNonRoot": True,
        "runAsUser": NON_ROOT_ID,
        "runAsGroup": NON_ROOT_ID,
        # The cache volume becomes group-writable for us; OnRootMismatch skips the recursive
        # chown of hundreds of GiB of weights on every restart.
        "fsGroup": NON_ROOT_ID,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
