"""The /metrics half of ``tools/vllm_contract.py``: every Prometheus metric an installed vLLM
declares (found statically with ``ast``) and the series it really exposes (scraped from vLLM's
own ``mount_metrics`` and ``PrometheusStatLogger``). Imported by that script; see its docstring
for how to run it.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import os
import re
import sys
import types
from pathlib import Path
from typing import Any

from vllm_compat import metrics_registry, mount_metrics

JsonDict = dict[str, Any]

_METRIC_CTORS = {
    "Counter": "counter",
    "Gauge": "gauge",
    "Histogram": "histogram",
    "Summary": "summary",
    "Info": "info",
    "_counter_cls": "counter",
    "_gauge_cls": "gauge",
    "_histogram_cls": "histogram",
}


# Written into metrics.json beside the data they explain.
NOTES = [
    (
        "legacy_v0=true entries live in vllm/engine/metrics.py (V0 engine) and are not registered by the V1 "
        "engine that `vllm serve` runs."
    ),
    (
        "prometheus_client appends _total to counter series, and writes _bucket/_count/_sum for histograms "
        "(plus _created unless created series are disabled)."
    ),
    (
        "metrics deprecated in the previous minor release are hidden unless "
        "--show-hidden-metrics-for-version=<previous minor> (the all_optional variant); "
        "vllm:lora_requests_info only with --enable-lora; vllm:spec_decode_* only with a speculative config."
    ),
    (
        "http_* series come from prometheus_fastapi_instrumentator (vLLM's /metrics mount, tools/vllm_compat.py); process_* and "
        "python_* from prometheus_client's default collectors (absent in multiprocess mode, i.e. "
        "--api-server-count > 1)."
    ),
]


def _const_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def _name_constants(func: ast.AST) -> list[str]:
    """String constants assigned to a variable called ``name`` inside ``func``."""
    out: list[str] = []
    for node in ast.walk(func):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            if node.value is None:
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            pairs: list[tuple[ast.expr, ast.expr]]
            if isinstance(node.value, ast.Tuple) and isinstance(targets[0], ast.Tuple):
                pairs = list(zip(targets[0].elts, node.value.elts, strict=False))
            else:
                pairs = [(t, node.value) for t in targets]
            for tgt, val in pairs:
                if isinstance(tgt, ast.Name) and tgt.id == "name" and (c := _const_str(val)):
                    out.append(c)
    return sorted(set(out))


def _callee_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


def _role(rel: str) -> str:
    if rel.endswith("metrics/reader.py"):
        return "consumer (reads the registry)"
    if rel.endswith("ray_wrappers.py"):
        return "wrapper (Ray metrics shim, same names)"
    return "declaration"


def static_metrics(pkg_root: Path) -> list[JsonDict]:
    """Every prometheus metric constructor call in the vLLM package, found with ast."""
    found: list[JsonDict] = []
    for path in sorted(pkg_root.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        enclosing: dict[int, ast.AST] = {}
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for sub in ast.walk(fn):
                    enclosing[id(sub)] = fn  # innermost wins: walk visits outer first
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            ctor = _callee_name(node.func)
            if ctor not in _METRIC_CTORS:
                continue
            kw = {k.arg: k.value for k in node.keywords if k.arg}
            name = _const_str(kw.get("name")) or (_const_str(node.args[0]) if node.args else None)
            if name is None or not (name.startswith("vllm:") or ctor.startswith("_")):
                if name is None and "name" in kw:
                    name = f"<dynamic: {ast.unparse(kw['name'])}>"
                elif name is None or not name.startswith("vllm"):
                    continue
            labels = kw.get("labelnames")
            rel = str(path.relative_to(pkg_root.parent))
            resolved = (
                _name_constants(enclosing[id(node)])
                if name.startswith("<dynamic") and id(node) in enclosing
                else []
            )
            found.append(
                {
                    "role": _role(rel),
                    "dynamic_name_candidates": resolved,
                    "name": name,
                    "type": _METRIC_CTORS[ctor],
                    "file": rel,
                    "line": node.lineno,
                    "labelnames": ast.unparse(labels) if labels is not None else None,
                    "legacy_v0": rel.startswith("vllm/engine/"),
                }
            )
    found.sort(key=lambda m: (m["name"], m["file"], m["line"]))
    return found


def exported_series(kind: str, name: str) -> list[str]:
    """Series that prometheus_client writes for a metric family."""
    if kind == "counter":
        base = name.removesuffix("_total")
        return [f"{base}_total"]
    if kind == "histogram":
        return [f"{name}_bucket", f"{name}_count", f"{name}_sum"]
    return [name]


class _Loose(types.SimpleNamespace):
    """A stand-in config: every attribute the stat logger reads and we did not set is None
    (no speculative decoding, no LoRA, no KV or EC connector, no watermark, ...)."""

    def __getattr__(self, name: str) -> Any:
        return None


def _fake_config(*, hidden: bool, lora: bool, spec: bool) -> Any:
    from vllm.config import CacheConfig, ObservabilityConfig

    observability = ObservabilityConfig()
    observability.show_hidden_metrics_for_version = (
        _previous_minor() if hidden else observability.show_hidden_metrics_for_version
    )
    return _Loose(
        observability_config=observability,
        model_config=_Loose(served_model_name="m", max_model_len=4096, is_diffusion=False),
        speculative_config=_Loose(num_speculative_tokens=2, method="ngram") if spec else None,
        lora_config=_Loose(max_loras=1, max_cpu_loras=1) if lora else None,
        cache_config=CacheConfig(),
        parallel_config=_Loose(),
        scheduler_config=_Loose(),
    )


def _previous_minor() -> str:
    import vllm

    major, minor = (int(x) for x in vllm.__version__.split(".")[:2])
    return f"{major}.{max(minor - 1, 0)}"


def _scrape(app: Any) -> JsonDict:
    from fastapi.testclient import TestClient

    client = TestClient(app)
    client.get("/v1/models")
    text = client.get("/metrics").text
    families: dict[str, str] = {}
    series: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, fam, typ = line.split(" ", 3)
            families[fam] = typ
        elif line and not line.startswith("#"):
            series.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return {"families": dict(sorted(families.items())), "series": sorted(series)}


def scrape_metrics(platform: str) -> JsonDict:
    """Set vLLM's metrics up on a bare FastAPI app and scrape /metrics (the ``default`` variant
    is what a plain ``vllm serve`` exports; ``all_optional`` adds hidden, LoRA and speculative
    decoding metrics)."""
    import prometheus_client
    from fastapi import FastAPI
    from vllm.v1.metrics.loggers import PrometheusStatLogger

    app = FastAPI()

    @app.get("/v1/models")
    def models() -> dict[str, str]:
        return {"object": "list"}

    mount_metrics()(app)
    variants: JsonDict = {}
    for label, kw in (
        ("default", {}),
        ("all_optional", {"hidden": True, "lora": True, "spec": True}),
    ):
        cfg = _fake_config(
            hidden=kw.get("hidden", False), lora=kw.get("lora", False), spec=kw.get("spec", False)
        )
        try:
            logger = PrometheusStatLogger(cfg, [0])
        except (AttributeError, TypeError, ValueError) as exc:
            variants[label] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        logger.log_engine_initialized()
        variants[label] = _scrape(app)
    created = getattr(prometheus_client.metrics, "_use_created", None)
    return {
        "platform_forced": platform,
        "registry": type(metrics_registry()).__name__,
        "vllm_engine_metrics_module_imported": "vllm.engine.metrics" in sys.modules,
        "prometheus_client_version": importlib.metadata.version("prometheus_client"),
        "created_series_enabled": created,
        "multiprocess_mode": os.environ.get("PROMETHEUS_MULTIPROC_DIR") is not None,
        "variants": variants,
    }


def v1_metrics(declared: list[JsonDict]) -> JsonDict:
    """The metric families the V1 engine declares, by name: type, where, exported series."""
    v1_names = sorted(
        {
            n
            for m in declared
            if not m["legacy_v0"] and m["role"] == "declaration"
            for n in (
                [m["name"]] if m["name"].startswith("vllm:") else m["dynamic_name_candidates"]
            )
        }
    )
    v1 = {
        n: {
            "type": next(
                m["type"]
                for m in declared
                if not m["legacy_v0"] and n in (m["name"], *m["dynamic_name_candidates"])
            ),
            "declared_at": sorted(
                f"{m['file']}:L{m['line']}"
                for m in declared
                if not m["legacy_v0"]
                and m["role"] == "declaration"
                and n in (m["name"], *m["dynamic_name_candidates"])
            ),
        }
        for n in v1_names
    }
    for n, info in v1.items():
        info["exported_series"] = exported_series(info["type"], n)
    return v1


def dump_metrics(platform: str) -> JsonDict:
    import vllm

    pkg_root = Path(vllm.__file__).resolve().parent
    declared = static_metrics(pkg_root)
    for m in declared:
        names = [m["name"]] if m["name"].startswith("vllm:") else m["dynamic_name_candidates"]
        m["exported_series"] = sorted(s for n in names for s in exported_series(m["type"], n))
    v1 = v1_metrics(declared)
    scraped = scrape_metrics(platform)
    return {
        "vllm_version": vllm.__version__,
        "declared": declared,
        "v1_metrics": v1,
        "v1_metric_count": len(v1),
        "notes": NOTES,
        "scraped": scraped,
    }
