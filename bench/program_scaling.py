"""Program scaling: the real ``__main__.py`` under the mock runtime for 1..200 models.

Usage: ``.venv/bin/python bench/program_scaling.py [--models 1,10,50,100,200] [--repeat 3]``

Times the platform program against a hand-written baseline registering the same resources
(``baseline``: small literal dicts; ``payload``: the platform's real manifests), medians of
interleaved runs under ``tests.support.harness.mocked_run``; docs/benchmarks.md, "Program
scaling".
"""

from __future__ import annotations

import argparse
import gc
import json
import pickle
import runpy
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pulumi  # noqa: E402
import pulumi_kubernetes as k8s  # noqa: E402
from pulumi.dynamic import Resource  # noqa: E402

from components.config import load_stack_config  # noqa: E402
from components.config.source import project_keys  # noqa: E402
from components.manifests.vllm.render import model_objects  # noqa: E402
from components.planning.capacity import plan_stack  # noqa: E402
from components.registry.providers import RegistryEntryProvider  # noqa: E402
from tests.support.harness import (  # noqa: E402
    PROJECT,
    TEST_SECRETS,
    engine_config,
    mocked_run,
    stack_file_config,
)

STACK = "production"
# 4 GPUs per node x autoscaler max 100: 400 GPUs, room for 200 single-GPU models.
POOL = {"type": "g3-gpu-rtxpro6000-blackwell-4", "count": 4, "autoscaler": {"min": 4, "max": 100}}
Program = Callable[[], None]


def synthetic_config(n: int) -> dict[str, Any]:
    """The committed production stack with N single-replica, single-GPU models."""
    cfg = dict(stack_file_config(STACK))
    cluster = dict(cfg[f"{PROJECT}:cluster"])
    cluster["gpuPool"] = POOL
    # As measured before custom resources defaulted off on a created cluster: with them.
    cluster["installed"] = {"prometheusOperator": True}
    cfg[f"{PROJECT}:cluster"] = cluster
    cfg.pop(f"{PROJECT}:gpuBudget", None)
    template = dict(cfg[f"{PROJECT}:models"][1])  # the 8B model: fits one GPU
    cfg[f"{PROJECT}:models"] = [
        {**template, "name": f"m-{i:04d}", "replicas": 1, "allowDowntime": True}
        for i in range(1, n + 1)
    ]
    return cfg


# ------------------------------------------------------------------------------------ programs


def platform_program() -> Program:
    main = str(ROOT / "__main__.py")

    def program() -> None:
        runpy.run_path(main, run_name="__main__")

    return program


def _meta(name: str, ns: pulumi.Input[str]) -> dict[str, Any]:
    return {"name": name, "namespace": ns, "labels": {"app.kubernetes.io/name": name}}


def _small(kind: str, name: str) -> dict[str, Any]:
    """A small literal body of each kind (what a hand-written program would pass)."""
    pod: dict[str, Any] = {
        "metadata": {"labels": {"app": name}},
        "spec": {"containers": [{"name": "c", "image": "vllm/vllm-openai:v0.11.0"}]},
    }
    sel = {"matchLabels": {"app": name}}
    bodies: dict[str, dict[str, Any]] = {
        "Service": {"spec": {"selector": {"app": name}, "ports": [{"port": 8000}]}},
        "NetworkPolicy": {"spec": {"podSelector": sel, "policyTypes": ["Ingress"]}},
        "StatefulSet": {
            "spec": {"replicas": 1, "serviceName": name, "selector": sel, "template": pod}
        },
        "ServiceMonitor": {"spec": {"selector": sel, "endpoints": [{"port": "http"}]}},
        "PrometheusRule": {"spec": {"groups": [{"name": name, "rules": []}]}},
        "ConfigMap": {"data": {"dashboard.json": "{}"}},
        "Job": {"spec": {"template": {**pod, "spec": {**pod["spec"], "restartPolicy": "Never"}}}},
        "Secret": {"string_data": {"key": "value"}},
        "DaemonSet": {"spec": {"selector": sel, "template": pod}},
        "CronJob": {
            "spec": {
                "schedule": "*/5 * * * *",
                "jobTemplate": {
                    "spec": {"template": {**pod, "spec": {**pod["spec"], "restartPolicy": "Never"}}}
                },
            }
        },
        "ResourceQuota": {"spec": {"hard": {"requests.nvidia.com/gpu": "400"}}},
        "LimitRange": {"spec": {"limits": [{"type": "Container"}]}},
    }
    return bodies[kind]


# (apiVersion, kind) per model, in the order ``model_objects`` builds them.
_MODEL_KINDS: list[tuple[str, str]] = [
    ("v1", "Service"),
    ("v1", "Service"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("apps/v1", "StatefulSet"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("v1", "ConfigMap"),
    ("batch/v1", "Job"),
]
_CLASSES: dict[str, Any] = {
    "Service": k8s.core.v1.Service,
    "NetworkPolicy": k8s.networking.v1.NetworkPolicy,
    "StatefulSet": k8s.apps.v1.StatefulSet,
    "ConfigMap": k8s.core.v1.ConfigMap,
    "Job": k8s.batch.v1.Job,
    "Secret": k8s.core.v1.Secret,
    "DaemonSet": k8s.apps.v1.DaemonSet,
    "CronJob": k8s.batch.v1.CronJob,
    "ResourceQuota": k8s.core.v1.ResourceQuota,
    "LimitRange": k8s.core.v1.LimitRange,
    "Namespace": k8s.core.v1.Namespace,
}


def _register(
    name: str,
    api_version: str,
    kind: str,
    meta: dict[str, Any],
    body: dict[str, Any],
    *,
    opts: pulumi.ResourceOptions,
) -> pulumi.CustomResource:
    if api_version.startswith("monitoring.coreos.com/"):
        cr: pulumi.CustomResource = k8s.apiextensions.CustomResource(
            name, api_version=api_version, kind=kind, metadata=meta, spec=body["spec"], opts=opts
        )
        return cr
    res: pulumi.CustomResource = _CLASSES[kind](name, metadata=meta, opts=opts, **body)
    return res


def _entry_props(i: int, ns: str) -> dict[str, Any]:
    name = f"m-{i:04d}"
    return {
        "connection": pulumi.Output.secret("host=db dbname=r user=w password=p"),
        "model_name": name,
        "environment": "production",
        "endpoint_url": f"http://{name}.{ns}.svc.cluster.local:8000/v1",
        "routing_enabled": True,
        "namespace": ns,
        "deployment_name": name,
        "image": "vllm/vllm-openai:v0.11.0",
        "hf_model_id": "org/model",
        "model_revision": "0" * 40,
        "max_model_len": 16384,
        "gpu_type": "RTX PRO 6000",
        "gpus_per_replica": 1,
        "replicas": 1,
        "stack": STACK,
        "change_kind": "deploy",
        "note": None,
        "entry_id": None,
        "health_status": None,
        "registry_action": None,
    }


class _Entry(Resource, module="registry", name="RegistryEntry"):
    """The baseline's dynamic resource: the platform's provider, literal props."""


class _Schema(Resource, module="registry", name="RegistrySchema"):
    pass


def _fixed(kubeconfig: str) -> tuple[pulumi.ResourceOptions, pulumi.Output[str]]:
    """The stack's fixed resources; returns the k8s options and the namespace name Output."""
    for typ, name in [
        ("linode:index/lkeCluster:LkeCluster", "cluster-lke"),
        ("linode:index/lkeNodePool:LkeNodePool", "cluster-gpu-pool"),
        ("pulumi:providers:postgresql", "registry-postgresql"),
        *[("postgresql:index/role:Role", f"role-{i}") for i in range(2)],
        *[("postgresql:index/grant:Grant", f"grant-{i}") for i in range(8)],
    ]:
        pulumi.CustomResource(typ, name, {"label": name})
    _Schema(RegistryEntryProvider(), "registry-schema", {"connection": "x", "schema_version": None})
    provider = k8s.Provider("cluster-k8s", kubeconfig=kubeconfig)
    opts = pulumi.ResourceOptions(provider=provider)
    ns = k8s.core.v1.Namespace("ns", metadata={"name": "vllm-production"}, opts=opts)
    k8s.core.v1.Namespace("device-plugin-ns", metadata={"name": "nvidia"}, opts=opts)
    ns_name: pulumi.Output[str] = ns.metadata.apply(lambda m: str(m["name"]))
    for kind, name in [
        ("DaemonSet", "device-plugin"),
        ("DaemonSet", "image-prepuller"),  # one per distinct image: all models share one here
        ("ResourceQuota", "quota"),
        ("LimitRange", "limits"),
        ("Secret", "hf-token"),
        ("Secret", "api-key"),
        ("Secret", "reporter-secret"),
        ("ConfigMap", "reporter-config"),
        ("CronJob", "reporter"),
    ]:
        _register(name, "", kind, _meta(name, ns_name), _small(kind, name), opts=opts)
    k8s.networking.v1.NetworkPolicy(
        "default-deny",
        metadata=_meta("default-deny", ns_name),
        spec=_small("NetworkPolicy", "x")["spec"],
        opts=opts,
    )
    k8s.networking.v1.NetworkPolicy(
        "reporter-policy",
        metadata=_meta("reporter-policy", ns_name),
        spec=_small("NetworkPolicy", "x")["spec"],
        opts=opts,
    )
    return opts, ns_name


def baseline_program(n: int, manifests: list[list[dict[str, Any]]] | None = None) -> Program:
    """Register the same custom resources directly; ``manifests``: pre-rendered bodies."""

    def program() -> None:
        opts, ns_name = _fixed("apiVersion: v1\nkind: Config\n")
        for i in range(1, n + 1):
            name = f"m-{i:04d}"
            objs = manifests[i - 1] if manifests is not None else None
            for j, (api_version, kind) in enumerate(_MODEL_KINDS):
                rname = f"{name}-{kind.lower()}-{j}"
                if objs is None:
                    meta, body = _meta(rname, ns_name), _small(kind, rname)
                else:
                    obj = objs[j]
                    meta = {**obj["metadata"], "namespace": ns_name}
                    body = {k: v for k, v in obj.items() if k in ("spec", "data")}
                _register(rname, api_version, kind, meta, body, opts=opts)
            _Entry(RegistryEntryProvider(), f"{name}-registry", _entry_props(i, "vllm-production"))

    return program


def rendered_manifests(n: int) -> list[list[dict[str, Any]]]:
    """Each synthetic model's real manifests, in ``_MODEL_KINDS`` order (built untimed)."""
    raw, secrets = project_keys(synthetic_config(n))
    cfg = load_stack_config(raw, secrets).config
    plan = plan_stack(cfg)
    out: list[list[dict[str, Any]]] = []
    for model in cfg.models:
        objs = model_objects(cfg, model, plan.model(model.name))
        kinds = [(str(o["apiVersion"]), str(o["kind"])) for o in objs]
        if kinds != _MODEL_KINDS:
            raise SystemExit(f"the platform's objects changed ({kinds}); update _MODEL_KINDS")
        out.append(objs)
    return out


# ------------------------------------------------------------------------------------- timing


# pulumi.dynamic.serialize_provider (pulumi 3.272) wraps pickle._Pickler._batch_setitems in one
# more sorting layer on every call and never restores it: after ~970 dynamic resources in one
# process, pickling a provider with instance state raises RecursionError. A `pulumi up` is a
# fresh process, so each timed run starts from the pristine method (see docs/benchmarks.md).
_PRISTINE_BATCH_SETITEMS = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]
_PRISTINE_SAVE_DICT = pickle._Pickler.save_dict  # type: ignore[attr-defined]


def _reset_pickler() -> None:
    pickle._Pickler._batch_setitems = _PRISTINE_BATCH_SETITEMS  # type: ignore[attr-defined]
    pickle._Pickler.save_dict = _PRISTINE_SAVE_DICT  # type: ignore[attr-defined]


def timed(
    program: Program, flat: dict[str, str], secret_keys: list[str], *, collect: bool = True
) -> tuple[float, int]:
    """Seconds inside ``mocked_run`` and resources registered; ``collect=False``: GC off."""
    _reset_pickler()
    gc.collect()
    if not collect:
        gc.disable()
    try:
        start = time.perf_counter()
        monitor = mocked_run(program, stack=STACK, config=flat, secret_keys=secret_keys)
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    return elapsed, len(monitor.registered)


def measure(n: int, repeat: int, collect: bool) -> dict[str, Any]:
    """Median time and resource count of each program at ``n`` models (runs interleaved)."""
    flat, secret_keys = engine_config(synthetic_config(n), TEST_SECRETS)
    manifests = rendered_manifests(n)
    programs = {
        "platform": platform_program(),
        "baseline": baseline_program(n),
        "payload": baseline_program(n, manifests),
    }
    times: dict[str, list[float]] = {k: [] for k in programs}
    counts_of: dict[str, int] = {}
    for _ in range(repeat):
        for key, program in programs.items():
            elapsed, registered = timed(program, flat, secret_keys, collect=collect)
            times[key].append(elapsed)
            counts_of[key] = registered
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "models": n,
        **{f"{k}_s": round(v, 4) for k, v in med.items()},
        **{f"{k}_resources": c for k, c in counts_of.items()},
        "platform_ms_per_model": round(1000 * med["platform"] / n, 2),
        "baseline_ms_per_model": round(1000 * med["baseline"] / n, 2),
        "ratio": round(med["platform"] / med["baseline"], 3),
        "ratio_vs_payload": round(med["platform"] / med["payload"], 3),
    }


def print_table(rows: list[dict[str, Any]], repeat: int, no_gc: bool) -> None:
    header = (
        f"{'models':>6} {'platform s':>10} {'ms/model':>8} {'resources':>9} "
        f"{'baseline s':>10} {'ms/model':>8} {'resources':>9} {'payload s':>9} "
        f"{'ratio':>6} {'vs payload':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['models']:>6} {r['platform_s']:>10.3f} {r['platform_ms_per_model']:>8.2f} "
            f"{r['platform_resources']:>9} {r['baseline_s']:>10.3f} "
            f"{r['baseline_ms_per_model']:>8.2f} {r['baseline_resources']:>9} "
            f"{r['payload_s']:>9.3f} {r['ratio']:>5.2f}x {r['ratio_vs_payload']:>9.2f}x"
        )
    print(
        f"\nmedian of {repeat} runs each, GC {'off' if no_gc else 'on'}; "
        "ratio = platform / baseline (small literal dicts), "
        "vs payload = platform / baseline with the platform's real manifests"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="1,10,50,100,200", help="comma-separated counts")
    parser.add_argument("--repeat", type=int, default=3, help="runs per (program, N); median")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument(
        "--no-gc", action="store_true", help="disable the cyclic GC inside each timed run"
    )
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.models.split(",")]

    # One warm-up of each, so imports and first-use caches are not charged to N=1.
    flat, secret_keys = engine_config(synthetic_config(1), TEST_SECRETS)
    timed(platform_program(), flat, secret_keys)
    timed(baseline_program(1), flat, secret_keys)
    rows: list[dict[str, Any]] = []
    for n in counts:
        rows.append(measure(n, args.repeat, collect=not args.no_gc))
        print(f"  N={n}: done", file=sys.stderr, flush=True)
    print_table(rows, args.repeat, args.no_gc)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
