"""Helpers shared by the test modules beside this one."""

from __future__ import annotations

from typing import Any

from policy.objects import Resource
from policy.values import UNKNOWN

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
POOL = "linode:index/lkeNodePool:LkeNodePool"
ENTRY = "pulumi-python:dynamic/registry:RegistryEntry"


def server(
    env: str = "production",
    *,
    name: str = "llama",
    image: str = "vllm/vllm-openai:v0.11.0",
    replicas: int = 2,
    kind: str = STATEFULSET,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": "server",
        "app.kubernetes.io/part-of": "vllm-platform",
        "vllm-platform.io/environment": env,
    }
    meta: dict[str, Any] = {"name": name, "namespace": f"vllm-{env}", "labels": dict(labels)}
    if annotations:
        meta["annotations"] = annotations
    probe = {"httpGet": {"path": "/health", "port": "http"}}
    container = {
        "name": "vllm",
        "image": image,
        "env": [
            {
                "name": "VLLM_API_KEY",
                "valueFrom": {"secretKeyRef": {"name": "vllm-api-key", "key": "api-key"}},
            },
            {"name": "HF_HOME", "value": "/var/cache/vllm-platform/huggingface"},
        ],
        "resources": {
            "requests": {"cpu": "4", "memory": "24Gi", "nvidia.com/gpu": "1"},
            "limits": {"memory": "24Gi", "nvidia.com/gpu": "1"},
        },
        "startupProbe": probe,
        "readinessProbe": probe,
        "livenessProbe": probe,
    }
    return {
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {
                "matchLabels": {
                    "app.kubernetes.io/name": name,
                    "app.kubernetes.io/component": "server",
                }
            },
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def container(props: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = props["spec"]["template"]["spec"]["containers"][0]
    return c


def netpol(env: str = "production", name: str = "llama", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": name}},
        "policyTypes": ["Ingress", "Egress"],
    }
    body.update(spec)
    return {"metadata": {"name": name, "namespace": f"vllm-{env}"}, "spec": body}


def pdb(env: str = "production", name: str = "llama") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": f"vllm-{env}"},
        "spec": {
            "maxUnavailable": 1,
            "selector": {
                "matchLabels": {
                    "app.kubernetes.io/name": name,
                    "app.kubernetes.io/component": "server",
                }
            },
        },
    }


def entry(model: str = "llama", env: str = "production", routing: Any = True) -> dict[str, Any]:
    return {
        "model_name": model,
        "environment": env,
        "routing_enabled": routing,
        "endpoint_url": UNKNOWN,
    }


def res(resource_type: str, props: dict[str, Any], name: str = "r") -> Resource:
    return Resource(resource_type, f"urn:pulumi:s::p::{resource_type}::{name}", name, props)
