"""Sample registry entries and small queries shared by the integration tests and workers."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import psycopg

from components.registry.store import EntrySpec

OWNER = "vllm-platform/staging"
"""The owner the provider tests write as (``<project>/<stack>`` of the sample spec)."""


def spec(**overrides: Any) -> EntrySpec:
    values: dict[str, Any] = {
        "model_name": "llama-3-1-8b-instruct",
        "environment": "staging",
        "endpoint_url": "http://llama-3-1-8b-instruct.vllm-staging.svc.cluster.local:8000/v1",
        "routing_enabled": True,
        "namespace": "vllm-staging",
        "deployment_name": "llama-3-1-8b-instruct",
        "image": "vllm/vllm-openai:v0.11.0",
        "hf_model_id": "meta-llama/Llama-3.1-8B-Instruct",
        "model_revision": "0e9e39f249a16976918f6564b8830bc894c89659",
        "max_model_len": 8192,
        "gpu_type": "NVIDIA RTX 4000 Ada",
        "gpus_per_replica": 1,
        "replicas": 2,
        "stack": "staging",
    }
    values.update(overrides)
    return EntrySpec(**values)


def entry_props(dsn: str, **overrides: Any) -> dict[str, Any]:
    """RegistryEntry inputs as the engine hands them to the provider (numbers as floats)."""
    props: dict[str, Any] = {
        "connection": dsn,
        "owner_stack": OWNER,
        "smoke_evidence": "llama-3-1-8b-instruct-smoke-0a1b2c3d",
        "change_kind": "deploy",
        "note": None,
        **asdict(spec()),
    }
    for name in ("max_model_len", "gpus_per_replica", "replicas"):
        props[name] = float(props[name])
    props.update(overrides)
    return props


def rows(dsn: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query.encode(), params).fetchall()
