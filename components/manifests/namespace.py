"""The environment namespace's objects as plain Kubernetes dicts (pure builders).

``EnvironmentNamespace`` registers exactly ``environment_objects``; ``python -m ops render``
prints ``namespace_objects`` (these plus GPU enablement) with secret values ``REDACTED``.

Pod Security: the namespace *enforces* ``restricted``. vLLM pods meet it (non-root, all
capabilities dropped, no privilege escalation, seccomp RuntimeDefault); anything that needs more
(the NVIDIA device plugin's hostPath) lives in its own namespace.

Secrets: ``vllm-api-key`` always; ``hf-token`` only when ``hfToken`` is set. vLLM pods reference
the token with ``secretKeyRef.optional: true``, so public models run without it.
"""

from __future__ import annotations

from typing import Any

from components.config import StackConfig
from components.contract import GPU_RESOURCE
from components.manifests.device_plugin import device_plugin_objects
from components.manifests.toolkit import (
    API_KEY_SECRET,
    API_KEY_SECRET_KEY,
    HF_TOKEN_SECRET,
    HF_TOKEN_SECRET_KEY,
    REDACTED,
    WEIGHTS_SECRET,
    WEIGHTS_SECRET_ACCESS_KEY,
    WEIGHTS_SECRET_ENDPOINT_KEY,
    WEIGHTS_SECRET_SECRET_KEY,
    Manifest,
    metadata,
    opaque_secret,
    standard_labels,
)

POD_SECURITY_LEVEL = "restricted"
GPU_QUOTA = "gpu-quota"
LIMIT_RANGE = "container-defaults"
DEFAULT_DENY_POLICY = "default-deny-ingress"
_COMPONENT = "environment"


def _labels(cfg: StackConfig, name: str) -> dict[str, str]:
    return standard_labels(name, _COMPONENT, cfg.environment)


def _namespace(cfg: StackConfig) -> dict[str, Any]:
    ns = cfg.namespace_name
    version = f"v{cfg.cluster.k8s_version}"
    pod_security = {
        f"pod-security.kubernetes.io/{mode}{suffix}": value
        for mode in ("enforce", "audit", "warn")
        for suffix, value in (("", POD_SECURITY_LEVEL), ("-version", version))
    }
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": ns, "labels": {**_labels(cfg, ns), **pod_security}},
    }


def _metadata(cfg: StackConfig, name: str) -> Manifest:
    """Metadata of an object in the environment's namespace."""
    return metadata(name, cfg.namespace_name, _labels(cfg, name))


def _gpu_quota(cfg: StackConfig) -> dict[str, Any]:
    # The budget is `gpuBudget`, else the GPU pool at its maximum size. Extended resources cannot
    # be overcommitted (request == limit), so quota only accepts the `requests.` prefix for them;
    # a `limits.nvidia.com/gpu` entry would be rejected.
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": _metadata(cfg, GPU_QUOTA),
        "spec": {"hard": {f"requests.{GPU_RESOURCE}": str(cfg.gpu_budget_resolved)}},
    }


def _limit_range(cfg: StackConfig) -> dict[str, Any]:
    # Requests only: a default *limit* would be applied to containers that set a larger request
    # but no limit, and the API server would then reject them (request > limit).
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": _metadata(cfg, LIMIT_RANGE),
        "spec": {
            "limits": [{"type": "Container", "defaultRequest": {"cpu": "100m", "memory": "128Mi"}}]
        },
    }


def _default_deny(cfg: StackConfig) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(cfg, DEFAULT_DENY_POLICY),
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }


def secret_object(cfg: StackConfig, name: str, key: str, value: str) -> dict[str, Any]:
    """An Opaque Secret holding ``value`` under ``key`` (as ``stringData``)."""
    return opaque_secret(_metadata(cfg, name), {key: value})


def environment_objects(
    cfg: StackConfig,
    *,
    redact_secrets: bool = True,
    hf_token: str | None = None,
    api_key: str | None = None,
    hf_token_set: bool | None = None,
) -> list[dict[str, Any]]:
    """Namespace, GPU quota, container defaults, default-deny ingress, the two Secrets, and
    the Object Storage key's Secret when a model streams its weights (always redacted).

    With ``redact_secrets`` every secret value is ``REDACTED``. The ``hf-token`` Secret is built
    when a token is given or ``hf_token_set`` says the stack has one (offline render).
    """
    with_hf = hf_token is not None if hf_token_set is None else hf_token_set
    objs = [_namespace(cfg), _gpu_quota(cfg), _limit_range(cfg), _default_deny(cfg)]
    if with_hf:
        value = REDACTED if redact_secrets or hf_token is None else hf_token
        objs.append(secret_object(cfg, HF_TOKEN_SECRET, HF_TOKEN_SECRET_KEY, value))
    api_value = REDACTED if redact_secrets or api_key is None else api_key
    objs.append(secret_object(cfg, API_KEY_SECRET, API_KEY_SECRET_KEY, api_value))
    if any(m.streams_weights for m in cfg.models):
        # The bucket key's two halves and the bucket's S3 endpoint URL; only ever from the
        # ObjectStorageKey's and ObjectStorageBucket's outputs (resources/weights.py).
        keys = {
            WEIGHTS_SECRET_ACCESS_KEY: REDACTED,
            WEIGHTS_SECRET_SECRET_KEY: REDACTED,
            WEIGHTS_SECRET_ENDPOINT_KEY: REDACTED,
        }
        objs.append(opaque_secret(_metadata(cfg, WEIGHTS_SECRET), keys))
    return objs


def namespace_objects(
    cfg: StackConfig,
    *,
    redact_secrets: bool = True,
    hf_token: str | None = None,
    api_key: str | None = None,
    hf_token_set: bool | None = None,
) -> list[dict[str, Any]]:
    """Every object the cluster and namespace components register, as plain dicts, in order."""
    return [
        *device_plugin_objects(cfg),
        *environment_objects(
            cfg,
            redact_secrets=redact_secrets,
            hf_token=hf_token,
            api_key=api_key,
            hf_token_set=hf_token_set,
        ),
    ]
