"""List every HTTP route the vLLM OpenAI server registers and which ones --api-key guards.

Run with the Python of a venv holding exactly the vLLM version under study (``python3
tools/vllm_version.py <version>`` does)::

    <venv>/bin/python tools/vllm_routes.py --out components/data/vllm/v<version>/routes.json

Builds vLLM's own app (``build_app``) for a plain ``vllm serve`` and for each switch that adds
routes, then requests every route without the key (no engine): 401 means guarded.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vllm_compat import build_app, flexible_parser, force_platform, make_arg_parser

API_KEY = "secret"
# 0.11's optional routes and what registers them (its build_app takes no tasks).
LEGACY_ENV = {
    "VLLM_SERVER_DEV_MODE": "1",
    "VLLM_TORCH_PROFILER_DIR": "/tmp/vllm-profile",
    "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "1",
}
LEGACY_OPTIONAL = {
    "/server_info": "VLLM_SERVER_DEV_MODE",
    "/reset_prefix_cache": "VLLM_SERVER_DEV_MODE",
    "/sleep": "VLLM_SERVER_DEV_MODE",
    "/wake_up": "VLLM_SERVER_DEV_MODE",
    "/is_sleeping": "VLLM_SERVER_DEV_MODE",
    "/collective_rpc": "VLLM_SERVER_DEV_MODE",
    "/start_profile": "VLLM_TORCH_PROFILER_DIR",
    "/stop_profile": "VLLM_TORCH_PROFILER_DIR",
    "/v1/load_lora_adapter": "VLLM_ALLOW_RUNTIME_LORA_UPDATING",
    "/v1/unload_lora_adapter": "VLLM_ALLOW_RUNTIME_LORA_UPDATING",
    "/tokenizer_info": "--enable-tokenizer-info-endpoint",
    "/docs": "not --disable-fastapi-docs",
    "/docs/oauth2-redirect": "not --disable-fastapi-docs",
    "/openapi.json": "not --disable-fastapi-docs",
    "/redoc": "not --disable-fastapi-docs",
}
# Switches that add routes in current releases: (label, environment, extra argv, tasks).
ENV_SWITCHES = [
    ("VLLM_SERVER_DEV_MODE=1", {"VLLM_SERVER_DEV_MODE": "1"}),
    ("VLLM_ALLOW_RUNTIME_LORA_UPDATING=1", {"VLLM_ALLOW_RUNTIME_LORA_UPDATING": "1"}),
]
FLAG_SWITCHES = [
    ["--enable-tokenizer-info-endpoint"],
    ["--enable-scale-out"],
    ["--tokens-only"],
    ["--enable-fault-tolerance"],
    ["--profiler-config", '{"profiler": "torch", "torch_profiler_dir": "/tmp/vllm-profile"}'],
]


@contextmanager
def environment(extra: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _flatten(routes: list[Any]) -> list[Any]:
    out: list[Any] = []
    for r in routes:
        # FastAPI >= 0.1xx keeps included routers as one lazy _IncludedRouter entry.
        inner = getattr(r, "original_router", None)
        out.extend(_flatten(list(inner.routes)) if inner is not None else [r])
    return out


def route_table(app: Any) -> dict[tuple[str, str], str]:
    """(path, method) -> kind, HEAD left out (Starlette adds it to every GET). A WebSocket
    route is listed with the method ``WEBSOCKET``; it is probed with a GET, which the
    AuthenticationMiddleware judges by the same path rule."""
    from starlette.routing import Mount, Route, WebSocketRoute

    table: dict[tuple[str, str], str] = {}
    for route in _flatten(list(app.routes)):
        if isinstance(route, Mount):
            table.setdefault((route.path, "GET"), "mount")
        elif isinstance(route, WebSocketRoute):
            table.setdefault((route.path, "WEBSOCKET"), "websocket")
        elif isinstance(route, Route):
            for method in sorted(route.methods or {"GET"}):
                if method != "HEAD":
                    table.setdefault((route.path, method), "route")
    return table


def status_without_token(app: Any, path: str, method: str) -> int:
    from fastapi.testclient import TestClient

    client = TestClient(app, raise_server_exceptions=False)
    verb = "GET" if method == "WEBSOCKET" else method
    return int(client.request(verb, re.sub(r"\{[^}]+\}", "x", path)).status_code)


class PoolingModel:
    """A stand-in ``ModelConfig`` for a pooling model: vLLM registers the pooling routers only
    for a model config that names its pooling task (entrypoints/pooling/factories.py), and the
    score API for an embedding model or a one-label classifier (pooling/utils.py)."""

    def __init__(self, task: str) -> None:
        self.task = task
        self.hf_config = argparse.Namespace(num_labels=1)
        self.io_processor_plugin = None

    def get_pooling_task(self, supported_tasks: tuple[str, ...]) -> str | None:
        return self.task if self.task in supported_tasks else None

    def __getattr__(self, name: str) -> Any:
        return None


def _tasks() -> tuple[tuple[str, ...], tuple[str, ...]]:
    from vllm.tasks import GENERATION_TASKS, POOLING_TASKS

    return tuple(GENERATION_TASKS), tuple(POOLING_TASKS)


def variants(parser: Any) -> Iterator[tuple[str, dict[str, str], list[str], tuple[str, ...]]]:
    """(label, environment, argv, tasks) for the default build and each switch."""
    generation, pooling = _tasks()
    yield "default", {}, [], ("generate",)
    for label, env in ENV_SWITCHES:
        yield label, env, [], ("generate",)
    known = {s for a in parser._actions for s in a.option_strings}
    for argv in FLAG_SWITCHES:
        if argv[0] in known:
            yield " ".join(argv[:1]), {}, argv, ("generate",)
    for task in (*generation, *pooling):
        if task != "generate":
            yield f"a model whose task is {task}", {}, [], (task,)


def current_rows(parser: Any) -> tuple[list[dict[str, Any]], Any]:
    make = build_app()
    found: dict[tuple[str, str], dict[str, Any]] = {}
    default_app = None
    for label, env, argv, tasks in variants(parser):
        with environment(env):
            args = parser.parse_args(["--api-key", API_KEY, *argv])
            app = make(args, supported_tasks=tasks, model_config=PoolingModel(tasks[0]))
            for (path, method), kind in route_table(app).items():
                if (path, method) in found:
                    continue
                status = status_without_token(app, path, method)
                found[(path, method)] = {
                    "path": path,
                    "method": method,
                    "kind": kind,
                    "guarded_by_api_key": status == 401,
                    "status_without_token": status,
                    "registered_only_with": None if label == "default" else label,
                }
        if default_app is None:
            default_app = app
    return sorted(found.values(), key=lambda r: (r["path"], r["method"])), default_app


def legacy_rows(parser: Any) -> tuple[list[dict[str, Any]], Any]:
    from vllm.entrypoints.openai import api_server

    os.environ.update(LEGACY_ENV)
    args = parser.parse_args(["--api-key", API_KEY])
    api_server.maybe_register_tokenizer_info_endpoint(  # type: ignore[attr-defined]
        argparse.Namespace(enable_tokenizer_info_endpoint=True)
    )
    app = build_app()(args)
    rows = [
        {
            "path": path,
            "method": method,
            "kind": kind,
            "guarded_by_api_key": (status := status_without_token(app, path, method)) == 401,
            "status_without_token": status,
            "registered_only_with": LEGACY_OPTIONAL.get(path),
        }
        for (path, method), kind in sorted(route_table(app).items())
    ]
    return rows, app


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--platform", choices=["cuda", "cpu"], default="cuda")
    opts = ap.parse_args(argv)
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
    force_platform(opts.platform)

    import vllm
    from fastapi.testclient import TestClient

    parser = make_arg_parser()(flexible_parser()())
    takes_tasks = "supported_tasks" in inspect.signature(build_app()).parameters
    rows, app = current_rows(parser) if takes_tasks else legacy_rows(parser)
    client = TestClient(app, raise_server_exceptions=False)
    bypass = {
        p: client.get(p).status_code
        for p in ["/v1/models", "/V1/models", "//v1/models", "/v1models"]
    }
    auth = {"Authorization": f"Bearer {API_KEY}"}
    doc = {
        "vllm_version": vllm.__version__,
        "env_for_optional_routes": {} if takes_tasks else LEGACY_ENV,
        "routes": rows,
        "auth_probe_status_without_token": bypass,
        "auth_probe_v1_models_with_token_status": client.get(
            "/v1/models", headers=auth
        ).status_code,
        "note": "Statuses other than 401 come from handlers running without an engine "
        "(500/422/404 etc.). registered_only_with: null means a plain `vllm serve` of a "
        "generative model registers the route.",
    }
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(opts.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
