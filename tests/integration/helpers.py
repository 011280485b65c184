"""Sample registry entries and small queries shared by the integration tests and workers."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psycopg
from psycopg import conninfo
from pulumi.dynamic import ResourceProvider
from pulumi.dynamic.dynamic import serialize_provider

from components.registry.connection import connect
from components.registry.providers import RegistryEntryProvider
from components.registry.rows import ADAPTER_FIELDS, EntrySpec, RegistryRow
from components.registry.store import get_entry
from components.resources.registry_roles import WRITER_GRANTS, grant_statements

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


def writer_roles(
    owner: str, make: Callable[[str], tuple[str, str]], kinds: Iterable[str]
) -> dict[str, tuple[str, str]]:
    """Per kind, a role holding the writer grants ``pulumi up`` gives (``w_<kind>``, unbound):
    ``{kind: (role, dsn)}``."""
    dbname = str(conninfo.conninfo_to_dict(owner)["dbname"])
    made: dict[str, tuple[str, str]] = {}
    with psycopg.connect(owner, autocommit=True) as conn:
        for kind in kinds:
            made[kind] = make(f"w_{kind}")
            for g in WRITER_GRANTS:
                for statement in grant_statements(g, made[kind][0], dbname):
                    conn.execute(statement)
    return made


def rows(dsn: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query.encode(), params).fetchall()


PROJECT_ROOT = Path(__file__).resolve().parents[2]

# The engine's provider process: unpickle, call the method, serialize the outputs exactly as
# pulumi/dynamic/__main__.py (3.272.0) Create/Update do (rpc.serialize_properties, l.164-177).
_ENGINE = """
import asyncio, base64, json, sys
import dill
from pulumi.runtime import rpc
from pulumi.runtime._serialization import _deserialize
provider = _deserialize(lambda: dill.loads(base64.b64decode(sys.argv[1])))
request = json.loads(sys.stdin.read())
try:
    if request["method"] == "create":
        result = provider.create(request["props"])
        outs, rid = result.outs, result.id
    elif request["method"] == "update":
        result = provider.update(request["id"], request["olds"], request["news"])
        outs, rid = result.outs, request["id"]
    elif request["method"] == "read":
        result = provider.read(request["id"], request["olds"])
        outs, rid = result.outs or {}, result.id
    elif request["method"] == "diff":
        result = provider.diff(request["id"], request["olds"], request["news"])
        outs, rid = {"changes": result.changes, "replaces": result.replaces}, request["id"]
    else:
        provider.delete(request["id"], request["olds"])
        outs, rid = {}, request["id"]
except Exception as exc:
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
    sys.exit(0)
asyncio.new_event_loop().run_until_complete(rpc.serialize_properties(dict(outs), {}))
print(json.dumps({"id": rid, "outs": outs}))
"""


def engine(
    request: dict[str, Any], *, fresh: bool = True, provider: ResourceProvider | None = None
) -> dict[str, Any]:
    """One provider call (create/update/delete/read/diff) pickled into a fresh process from the
    project root, like the engine's provider process; ``{"error": ...}`` when the method raised.
    ``fresh=False`` runs the same script in this process (faster; same pickling).
    ``provider``: the provider to pickle (default a ``RegistryEntryProvider``)."""
    blob = serialize_provider(provider if provider is not None else RegistryEntryProvider())
    if not fresh:
        import contextlib
        import io
        from unittest import mock

        out = io.StringIO()
        argv = ["-c", blob]
        with (
            mock.patch.object(sys, "argv", argv),
            mock.patch.object(sys, "stdin", io.StringIO(json.dumps(request))),
            contextlib.redirect_stdout(out),
            contextlib.suppress(SystemExit),
        ):
            exec(_ENGINE, {"__name__": "__engine__"})
        inline: dict[str, Any] = json.loads(out.getvalue())
        return inline
    done = subprocess.run(
        [sys.executable, "-c", _ENGINE, blob],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def call(
    method: str, entry_id: str, provider: ResourceProvider | None = None, **request: Any
) -> Any:
    """One provider call in this process (``engine(fresh=False)``) that must not raise."""
    result = engine({"method": method, "id": entry_id, **request}, fresh=False, provider=provider)
    assert "error" not in result, result
    return result


def row_of(dsn: str, environment: str, model: str) -> RegistryRow:
    """The model's registry row, which must exist."""
    with connect(dsn, autocommit=True) as conn:
        found = get_entry(conn, environment, model)
    assert found is not None
    return found


def report_sql(dsn: str, **variables: str) -> str:
    """Apply one observation (``name``, ``status``, ``note``) with the shipped report.sql
    through psql, as the reporter does; returns what it printed (raises when psql failed)."""
    from tests.integration.reporter_harness import run_report_sql

    observation = "\t".join(variables.pop(k, "test") for k in ("name", "status", "note"))
    done = run_report_sql(dsn, observation, variables)
    assert done.returncode == 0, done.stderr
    return done.stdout


def register_with_an_older_schema(dsn: str, entry: EntrySpec, **params: object) -> None:
    """``vllm_platform_registry_register`` as 0006/0007 declared it (no adapter parameters), for
    rows a registry held before migration 0008 (today's ``store`` reads 0008's columns)."""
    values = {
        **{k: v for k, v in asdict(entry).items() if k not in ADAPTER_FIELDS},
        **params,
    }
    names = ", ".join(f"p_{k} => %s" for k in values)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"SELECT vllm_platform_registry_register({names})".encode(), list(values.values())
        )
