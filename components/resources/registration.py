"""Register a builder's plain Kubernetes dict as the matching typed pulumi-kubernetes resource.

What is registered is the dict itself (``apiVersion``/``kind`` are added by the typed classes;
custom resources go through ``apiextensions.CustomResource``), so "the component registers what
the builder produced" holds by construction and is tested. Every component uses this one table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

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


_SPEC_HASH = re.compile(r"-[0-9a-f]{8}$")


def child_name(component: str, obj: Mapping[str, Any]) -> str:
    """The one rule naming a component's Kubernetes children: ``<component>-<kind>[-<rest>]``.

    ``rest`` is ``metadata.name`` without the component's own name in front (``llama`` ->
    ``llama-service``, ``llama-pods`` -> ``llama-service-pods``; ``gpu-quota`` in component
    ``environment`` -> ``environment-resourcequota-gpu-quota``). A Job's trailing spec hash
    (``-<8 hex>``, see manifests/vllm/smoke.py) is left out, so a new spec replaces the same
    child instead of adding one. Unique per component: Kubernetes names are unique per kind
    and namespace, and a component's objects share one namespace per kind.
    """
    kind = str(obj["kind"]).lower()
    name = str(obj["metadata"]["name"])
    if kind == "job":
        name = _SPEC_HASH.sub("", name)
    if name == component:
        rest = ""
    elif name.startswith(f"{component}-"):
        rest = name[len(component) :]
    else:
        rest = f"-{name}"
    return f"{component}-{kind}{rest}"


def register_child(
    component: str,
    obj: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
    *,
    previous_name: str | None = None,
    namespace: pulumi.Input[str] | None = None,
    string_data: Mapping[str, pulumi.Input[str]] | None = None,
) -> pulumi.CustomResource:
    """``register_object`` under ``child_name(component, obj)``.

    ``previous_name`` is the child's name before the one rule existed (0.1.0); when it differs
    it becomes an alias, so the engine adopts the live object instead of replacing it.
    """
    name = child_name(component, obj)
    if previous_name is not None and previous_name != name:
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(name=previous_name)])
        )
    return register_object(name, obj, opts, namespace=namespace, string_data=string_data)


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
