"""List every HTTP route the vLLM OpenAI server registers and which ones --api-key guards.

Run in a throwaway venv with `pip install vllm==<version>` (no GPU needed)::

    /tmp/vllm-venv/bin/python tools/vllm_routes.py --out components/data/vllm/v<version>/routes.json

The app is built with vLLM's own ``build_app`` (api_server.py) from the default
``vllm serve`` arguments plus ``--api-key``, with the env switches that add
optional routes turned on (VLLM_SERVER_DEV_MODE, VLLM_TORCH_PROFILER_DIR,
VLLM_ALLOW_RUNTIME_LORA_UPDATING).  Each route is then requested without a token
through Starlette's TestClient (no engine, no lifespan): a 401 means the
AuthenticationMiddleware rejected it; anything else means the request reached
the handler unauthenticated.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import types
from pathlib import Path
from typing import Any

OPTIONAL_ROUTE_ENV = {
    "VLLM_SERVER_DEV_MODE": "1",
    "VLLM_TORCH_PROFILER_DIR": "/tmp/vllm-profile",
    "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "1",
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    opts = ap.parse_args(argv)
    os.environ.update(OPTIONAL_ROUTE_ENV)
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")

    import vllm.platforms as platforms  # noqa: PLR0402 - the module object itself is patched

    sys.modules.setdefault("vllm._C", types.ModuleType("vllm._C"))
    from vllm.platforms.cuda import CudaPlatform

    platforms._current_platform = CudaPlatform()  # type: ignore[attr-defined]

    import vllm
    from fastapi.testclient import TestClient
    from starlette.routing import Mount, Route
    from vllm.entrypoints.openai import api_server
    from vllm.entrypoints.openai.cli_args import make_arg_parser
    from vllm.utils import FlexibleArgumentParser

    args = make_arg_parser(FlexibleArgumentParser()).parse_args(["--api-key", "secret"])
    api_server.maybe_register_tokenizer_info_endpoint(
        types.SimpleNamespace(enable_tokenizer_info_endpoint=True)
    )
    app = api_server.build_app(args)
    client = TestClient(app, raise_server_exceptions=False)

    optional = {
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

    def flatten(routes: list[Any]) -> list[Any]:
        out: list[Any] = []
        for r in routes:
            # FastAPI >= 0.1xx keeps included routers as one lazy _IncludedRouter entry.
            inner = getattr(r, "original_router", None)
            out.extend(flatten(list(inner.routes)) if inner is not None else [r])
        return out

    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for route in flatten(list(app.routes)):
        if isinstance(route, Mount):
            entries = [(route.path, "GET", "mount")]
        elif isinstance(route, Route):
            entries = [
                (route.path, m, "route") for m in sorted(route.methods or {"GET"}) if m != "HEAD"
            ]
        else:
            continue
        for path, method, kind in entries:
            if (path, method) in seen:
                continue
            seen.add((path, method))
            concrete = re.sub(r"\{[^}]+\}", "x", path)
            status = client.request(method, concrete).status_code
            rows.append(
                {
                    "path": path,
                    "method": method,
                    "kind": kind,
                    "guarded_by_api_key": status == 401,
                    "status_without_token": status,
                    "registered_only_with": optional.get(path),
                }
            )
    rows.sort(key=lambda r: (r["path"], r["method"]))
    bypass = {
        p: client.get(p).status_code
        for p in ["/v1/models", "/V1/models", "//v1/models", "/v1models"]
    }
    with_token = client.get("/v1/models", headers={"Authorization": "Bearer secret"}).status_code
    doc = {
        "vllm_version": vllm.__version__,
        "env_for_optional_routes": OPTIONAL_ROUTE_ENV,
        "routes": rows,
        "auth_probe_status_without_token": bypass,
        "auth_probe_v1_models_with_token_status": with_token,
        "note": "Statuses other than 401 come from handlers running without an engine (500/422/404 etc.).",
    }
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(opts.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
