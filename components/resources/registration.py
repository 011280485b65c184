"""Register a builder's plain Kubernetes dict as the matching typed pulumi-kubernetes resource.

What is registered is the dict itself (``apiVersion``/``kind`` are added by the typed classes;
custom resources go through ``apiextensions.CustomResource``), so "the component registers what
the builder produced" holds by construction and is tested. Every component uses this one table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

__all__ = ["CUSTOM_RESOURCE_GROUPS", "register_object", "resource_name"]

# (apiVersion, kind) -> (typed class, the top-level fields besides metadata it takes).
_TYPED: dict[tuple[str, str], tuple[Any, tuple[str, ...]]] = {
    ("v1", "Namespace"): (k8s.core.v1.Namespace, ()),
    ("v1", "ResourceQuota"): (k8s.core.v1.ResourceQuota, ("spec",)),
    ("v1", "LimitRange"): (k8s.core.v1.LimitRange, ("spec",)),
    ("v1", "ConfigMap"): (k8s.core.v1.ConfigMap, ("data",)),
    ("v1", "Secret"): (k8s.core.v1.Secret, ("type", "stringData")),
    ("v1", "Service"): (k8s.core.v1.Service, ("spec",)),
    ("v1", "PersistentVolumeClaim"): (k8s.core.v1.PersistentVolumeClaim, ("spec",)),
    ("networking.k8s.io/v1", "NetworkPolicy"): (k8s.networking.v1.NetworkPolicy, ("spec",)),
    ("networking.k8s.io/v1", "Ingress"): (k8s.networking.v1.Ingress, ("spec",)),
    ("apps/v1", "DaemonSet"): (k8s.apps.v1.DaemonSet, ("spec",)),
    ("apps/v1", "StatefulSet"): (k8s.apps.v1.StatefulSet, ("spec",)),
    ("apps/v1", "Deployment"): (k8s.apps.v1.Deployment, ("spec",)),
    ("policy/v1", "PodDisruptionBudget"): (k8s.policy.v1.PodDisruptionBudget, ("spec",)),
    ("batch/v1", "Job"): (k8s.batch.v1.Job, ("spec",)),
    ("batch/v1", "CronJob"): (k8s.batch.v1.CronJob, ("spec",)),
}
# CRD-backed kinds (their CRDs may be absent; the builders only emit them when switched on).
CUSTOM_RESOURCE_GROUPS = ("monitoring.coreos.com/", "keda.sh/")
_SNAKE = {"stringData": "string_data"}


def resource_name(prefix: str, obj: Mapping[str, Any]) -> str:
    """``<prefix>-<metadata.name>``: deterministic and unique per kind within a component."""
    return f"{prefix}-{obj['metadata']['name']}"


def register_object(
    name: str,
    obj: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
    *,
    namespace: pulumi.Input[str] | None = None,
    string_data: Mapping[str, pulumi.Input[str]] | None = None,
) -> pulumi.CustomResource:
    """Register ``obj`` as the Pulumi resource ``name``.

    ``namespace`` (e.g. the Namespace resource's name Output) replaces ``metadata.namespace`` so
    the object depends on what produces it; for a Secret, ``string_data`` replaces its stringData
    (the values become secret Outputs; k8s.core.v1.Secret marks data/stringData secret itself).
    """
    api_version, kind = obj["apiVersion"], obj["kind"]
    meta: Any = dict(obj["metadata"])
    if namespace is not None:
        meta["namespace"] = namespace
    if api_version.startswith(CUSTOM_RESOURCE_GROUPS):
        resource: pulumi.CustomResource = k8s.apiextensions.CustomResource(
            name, api_version=api_version, kind=kind, metadata=meta, spec=obj["spec"], opts=opts
        )
        return resource
    try:
        cls, fields = _TYPED[(api_version, kind)]
    except KeyError:
        raise ValueError(f"no typed resource registered for {api_version} {kind}") from None
    body: dict[str, Any] = {_SNAKE.get(f, f): obj[f] for f in fields if f in obj}
    if kind == "Secret":
        data = string_data if string_data is not None else obj["stringData"]
        body["string_data"] = {k: pulumi.Output.secret(v) for k, v in data.items()}
    resource = cls(name, metadata=meta, opts=opts, **body)
    return resource
