"""Register a builder's plain Kubernetes dict as the matching typed pulumi-kubernetes resource.

What is registered is the dict itself (``apiVersion``/``kind`` are added by the typed classes),
so "the component registers what the builder produced" holds by construction and is tested.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

__all__ = ["register_object", "resource_name"]


def resource_name(prefix: str, obj: Mapping[str, Any]) -> str:
    """``<prefix>-<metadata.name>``: deterministic and unique per kind within a component."""
    return f"{prefix}-{obj['metadata']['name']}"


def register_object(
    prefix: str,
    obj: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
    *,
    namespace: pulumi.Input[str] | None = None,
    string_data: Mapping[str, pulumi.Input[str]] | None = None,
) -> pulumi.CustomResource:
    """Register ``obj`` with ``opts``.

    ``namespace`` (the Namespace resource's name Output) replaces ``metadata.namespace`` so the
    object depends on its namespace; for a Secret, ``string_data`` replaces its stringData.
    """
    name = resource_name(prefix, obj)
    kind = (obj["apiVersion"], obj["kind"])
    meta: Mapping[str, Any] = obj["metadata"]
    if namespace is not None:
        meta = {**meta, "namespace": namespace}
    if kind == ("v1", "Namespace"):
        return k8s.core.v1.Namespace(name, metadata=meta, opts=opts)
    if kind == ("v1", "ResourceQuota"):
        return k8s.core.v1.ResourceQuota(name, metadata=meta, spec=obj["spec"], opts=opts)
    if kind == ("v1", "LimitRange"):
        return k8s.core.v1.LimitRange(name, metadata=meta, spec=obj["spec"], opts=opts)
    if kind == ("networking.k8s.io/v1", "NetworkPolicy"):
        return k8s.networking.v1.NetworkPolicy(name, metadata=meta, spec=obj["spec"], opts=opts)
    if kind == ("apps/v1", "DaemonSet"):
        return k8s.apps.v1.DaemonSet(name, metadata=meta, spec=obj["spec"], opts=opts)
    if kind == ("v1", "Secret"):
        # k8s.core.v1.Secret itself adds additional_secret_outputs=["data", "stringData"].
        data: Mapping[str, pulumi.Input[str]] = (
            string_data if string_data is not None else obj["stringData"]
        )
        return k8s.core.v1.Secret(
            name,
            metadata=meta,
            type=obj["type"],
            string_data={k: pulumi.Output.secret(v) for k, v in data.items()},
            opts=opts,
        )
    raise ValueError(f"no typed resource registered for {kind[0]} {kind[1]}")
