"""How the policy pack sees the stack's objects: resource kinds, pod specs and containers, and
the platform's vLLM workloads recognised by the labels and annotations in components.contract
(docs/operations.md, "Reviewing a change"). No Pulumi import; the checks live in rules.py.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from components.contract import (
    ACCELERATOR_ANNOTATION,
    COMPONENT_LABEL,
    CPU_MODE_ENV,
    ENVIRONMENT_LABEL,
    ENVIRONMENTS,
    NAME_LABEL,
    PART_OF_LABEL,
    PROJECT,
    SERVER_COMPONENT,
    VLLM_CONTAINER,
)
from policy.values import UNKNOWN, Unknown, as_int, dig, mapping, sequence

DEFAULT_GPU_POOL_MAX_NODES: Final[Mapping[str, int]] = {
    "development": 4,
    "staging": 4,
    "production": 16,
}

DEPLOYMENT: Final = "kubernetes:apps/v1:Deployment"
STATEFULSET: Final = "kubernetes:apps/v1:StatefulSet"
NETWORK_POLICY: Final = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PDB: Final = "kubernetes:policy/v1:PodDisruptionBudget"
HPA_TYPES: Final = frozenset(
    {
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        "kubernetes:keda.sh/v1alpha1:ScaledObject",
    }
)
NODE_POOL: Final = "linode:index/lkeNodePool:LkeNodePool"
LKE_CLUSTER: Final = "linode:index/lkeCluster:LkeCluster"
DYNAMIC_PREFIX: Final = "pulumi-python:dynamic"

# Where each pod-bearing kind keeps its pod spec.
_POD_SPEC_PATHS: Final[Mapping[str, tuple[str, ...]]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:core/v1:ReplicationController": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_CONTAINER_LISTS: Final = ("initContainers", "containers", "ephemeralContainers")

# Words in an env var name that mark a credential; names that only point at one are fine.
_SECRET_WORDS: Final = frozenset(
    {"TOKEN", "PASSWORD", "PASSWD", "PWD", "SECRET", "APIKEY", "CREDENTIAL", "CREDENTIALS"}
)
_POINTER_SUFFIXES: Final = frozenset({"FILE", "PATH", "DIR", "NAME", "REF"})
_WORD_SPLIT: Final = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")


@dataclass(frozen=True)
class Resource:
    """One resource of the stack, as a stack policy sees it (props already plain)."""

    resource_type: str
    urn: str
    name: str
    props: Mapping[str, Any]


@dataclass(frozen=True)
class Violation:
    message: str
    urn: str | None = None


@dataclass(frozen=True)
class Workload:
    """A vLLM server workload, with what the rules need from it."""

    kind: str
    name: str
    namespace: str | Unknown | None
    labels: Mapping[str, Any]
    """Pod template labels (what selectors match)."""
    meta_labels: Mapping[str, Any]
    annotations: Mapping[str, Any]
    replicas: int | Unknown | None
    containers: tuple[Mapping[str, Any], ...]
    """The vLLM containers."""

    @property
    def title(self) -> str:
        ns = self.namespace if isinstance(self.namespace, str) else "?"
        return f"{self.kind} {ns}/{self.name}"

    @property
    def model(self) -> str:
        name = self.labels.get(NAME_LABEL)
        return name if isinstance(name, str) else self.name


def is_secret_env_name(name: str) -> bool:
    """``HF_TOKEN``, ``PGPASSWORD``, ``VLLM_API_KEY``, ``apiKey``: yes. ``TOKENIZERS_PARALLELISM``,
    ``HF_TOKEN_PATH``, ``SECRET_NAME``: no (not a credential, or only a pointer to one)."""
    words = [w.upper() for w in _WORD_SPLIT.split(name) if w]
    if not words or words[-1] in _POINTER_SUFFIXES:
        return False
    if any(w in _SECRET_WORDS for w in words):
        return True
    if any(w.endswith(("PASSWORD", "PASSWD", "TOKEN", "APIKEY", "SECRET")) for w in words):
        return True  # PGPASSWORD, GITHUBTOKEN
    return any(a == "API" and b == "KEY" for a, b in itertools.pairwise(words))


def selector_matches(selector: Any, labels: Mapping[str, Any]) -> bool | None:
    """Whether a LabelSelector selects pods labelled ``labels``; ``None`` if it is unknown.

    An empty selector selects every pod (as in NetworkPolicy.podSelector).
    """
    if selector is UNKNOWN:
        return None
    sel = mapping(selector)
    match_labels = sel.get("matchLabels")
    if match_labels is UNKNOWN:
        return None
    for key, want in mapping(match_labels).items():
        if want is UNKNOWN:
            return None
        if labels.get(key) != want:
            return False
    for expr in sequence(sel.get("matchExpressions")):
        e = mapping(expr)
        expr_key, op, values = e.get("key"), e.get("operator"), sequence(e.get("values"))
        if expr_key is UNKNOWN or op is UNKNOWN or UNKNOWN in values:
            return None
        present = isinstance(expr_key, str) and expr_key in labels
        value = labels.get(expr_key) if isinstance(expr_key, str) else None
        ok = {
            "In": present and value in values,
            "NotIn": not present or value not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }.get(str(op))
        if not ok:
            return False
    return True


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec of a pod-bearing kind, else ``None``."""
    path = _POD_SPEC_PATHS.get(resource_type)
    if path is None:
        return None
    spec = dig(props, *path)
    return spec if isinstance(spec, Mapping) else None


def pod_containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every container of a pod spec: init, regular and ephemeral."""
    lists = (sequence(spec.get(key)) for key in _CONTAINER_LISTS)
    return [c for containers in lists for c in containers if isinstance(c, Mapping)]


def object_title(resource_type: str, props: Mapping[str, Any]) -> str:
    """``Kind namespace/name`` (or ``Kind name``), as messages name an object."""
    kind = resource_type.rsplit(":", 1)[-1]
    name = dig(props, "metadata", "name")
    ns = dig(props, "metadata", "namespace")
    name_s = name if isinstance(name, str) else "?"
    return f"{kind} {ns}/{name_s}" if isinstance(ns, str) else f"{kind} {name_s}"


def vllm_workload(resource_type: str, props: Mapping[str, Any]) -> Workload | None:
    """The vLLM server in a Deployment or StatefulSet, else ``None``."""
    if resource_type not in (DEPLOYMENT, STATEFULSET):
        return None
    spec = pod_spec(resource_type, props) or {}
    labels = mapping(dig(props, "spec", "template", "metadata", "labels"))
    all_containers = [c for c in sequence(spec.get("containers")) if isinstance(c, Mapping)]
    named = [c for c in all_containers if c.get("name") == VLLM_CONTAINER]
    is_server = (
        labels.get(PART_OF_LABEL) == PROJECT and labels.get(COMPONENT_LABEL) == SERVER_COMPONENT
    )
    if not named and not is_server:
        return None
    name = dig(props, "metadata", "name")
    namespace = dig(props, "metadata", "namespace")
    replicas = dig(props, "spec", "replicas")
    return Workload(
        kind=resource_type.rsplit(":", 1)[-1],
        name=name if isinstance(name, str) else "?",
        namespace=namespace if isinstance(namespace, str) or namespace is UNKNOWN else None,
        labels=labels,
        meta_labels=mapping(dig(props, "metadata", "labels")),
        annotations=mapping(dig(props, "metadata", "annotations")),
        replicas=None if replicas is None else as_int(replicas),
        containers=tuple(named or all_containers),
    )


def environment_of(workload: Workload) -> str | None:
    """The environment label (pod template, then object), else a ``vllm-<env>`` namespace."""
    for source in (workload.labels, workload.meta_labels):
        env = source.get(ENVIRONMENT_LABEL)
        if env in ENVIRONMENTS:
            return str(env)
    ns = workload.namespace
    if isinstance(ns, str) and ns.startswith("vllm-") and ns[5:] in ENVIRONMENTS:
        return ns[5:]
    return None


def env_phrase(env: str | None) -> str:
    """The environment as messages name it."""
    return env if env is not None else "an unlabelled environment (held to production rules)"


def is_cpu_mode(workload: Workload, container: Mapping[str, Any]) -> bool:
    """CPU mode: the workload's accelerator annotation, or the CPU KV-cache env var."""
    if workload.annotations.get(ACCELERATOR_ANNOTATION) == "cpu":
        return True
    return any(
        isinstance(e, Mapping) and e.get("name") == CPU_MODE_ENV
        for e in sequence(container.get("env"))
    )


def container_name(container: Mapping[str, Any]) -> str:
    name = container.get("name")
    return name if isinstance(name, str) else "?"
