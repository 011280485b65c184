"""Registry: RegistryEntry provider create x N then update x N against a real PostgreSQL.

Usage: ``.venv/bin/python bench/registry.py [--server DSN] [--count 100] [--repeat 3]``

The provider against plain psycopg loops (one connection; a connection per operation; with the
audit event) on a throwaway database; p50/p95 per operation and the ratios. The programs and
the figures: docs/benchmarks.md, "Registry".
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from components.registry.migrate import migrate  # noqa: E402
from components.registry.providers import RegistryEntryProvider  # noqa: E402
from components.registry.rows import ENTRIES_TABLE, EVENTS_TABLE, SPEC_FIELDS  # noqa: E402
from tests.integration.conftest import database  # noqa: E402

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
OWNER = "vllm-platform/staging"
Op = Callable[[], None]


def props(dsn: str, model: str, *, image: str, replicas: int) -> dict[str, Any]:
    """RegistryEntry inputs as the engine hands them to the provider (numbers as floats)."""
    return {
        "connection": dsn,
        "owner_stack": OWNER,
        # A new smoke Job per image: an update carries new evidence, as after a real rollout.
        "smoke_evidence": f"{model}-smoke-{image.rsplit(':', 1)[-1]}",
        "change_kind": "deploy",
        "note": None,
        "model_name": model,
        "environment": "staging",
        "endpoint_url": f"http://{model}.vllm-staging.svc.cluster.local:8000/v1",
        "routing_enabled": True,
        "namespace": "vllm-staging",
        "deployment_name": model,
        "image": image,
        "hf_model_id": "meta-llama/Llama-3.1-8B-Instruct",
        "model_revision": "0e9e39f249a16976918f6564b8830bc894c89659",
        "max_model_len": 8192.0,
        "gpu_type": "NVIDIA RTX 4000 Ada",
        "gpus_per_replica": 1.0,
        "replicas": float(replicas),
        "stack": "staging",
    }


IMAGE_V1 = "vllm/vllm-openai:v0.11.0"
IMAGE_V2 = "vllm/vllm-openai:v0.11.1"

# The plain loops write the owner too (without checking it: that is the provider's work).
_UPSERT = sql.SQL(
    "INSERT INTO {table} ({cols}, health_status, owner_stack) VALUES ({params}, 'healthy', %s) "
    "ON CONFLICT (environment, model_name) DO UPDATE SET {sets}, updated_at = now() "
    "RETURNING id"
).format(
    table=sql.Identifier(ENTRIES_TABLE),
    cols=sql.SQL(", ").join(sql.Identifier(c) for c in SPEC_FIELDS),
    params=sql.SQL(", ").join(sql.Placeholder() * len(SPEC_FIELDS)),
    sets=sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c))
        for c in SPEC_FIELDS
        if c not in ("environment", "model_name")
    ),
)
_EVENT = sql.SQL(
    "INSERT INTO {table} (entry_id, action, new_values, stack) VALUES (%s, %s, %s::jsonb, %s)"
).format(table=sql.Identifier(EVENTS_TABLE))


def _row_values(p: dict[str, Any]) -> list[Any]:
    ints = ("max_model_len", "gpus_per_replica", "replicas")
    return [*(int(p[c]) if c in ints else p.get(c) for c in SPEC_FIELDS), p["owner_stack"]]


def _time(ops: list[Op]) -> list[float]:
    out: list[float] = []
    for op in ops:
        start = time.perf_counter()
        op()
        out.append(time.perf_counter() - start)
    return out


# ---------------------------------------------------------------------------------- programs


def run_provider(dsn: str, models: list[str]) -> tuple[list[float], list[float]]:
    provider = RegistryEntryProvider()
    created: dict[str, tuple[str, dict[str, Any]]] = {}

    def create(model: str) -> Op:
        def op() -> None:
            res = provider.create(props(dsn, model, image=IMAGE_V1, replicas=1))
            assert res.outs is not None and res.outs["registry_action"] == "registered"
            created[model] = (str(res.id), res.outs)

        return op

    def update(model: str) -> Op:
        def op() -> None:
            id_, olds = created[model]
            res = provider.update(id_, olds, props(dsn, model, image=IMAGE_V2, replicas=2))
            assert res.outs is not None and res.outs["registry_action"] == "updated"

        return op

    creates = _time([create(m) for m in models])
    updates = _time([update(m) for m in models])
    return creates, updates


def run_plain_one_connection(dsn: str, models: list[str]) -> tuple[list[float], list[float]]:
    with psycopg.connect(dsn, autocommit=True) as conn:

        def op(model: str, image: str, replicas: int) -> Op:
            values = _row_values(props(dsn, model, image=image, replicas=replicas))

            def run() -> None:
                conn.execute(_UPSERT, values).fetchone()

            return run

        creates = _time([op(m, IMAGE_V1, 1) for m in models])
        updates = _time([op(m, IMAGE_V2, 2) for m in models])
    return creates, updates


def run_plain_per_op(
    dsn: str, models: list[str], *, with_event: bool = False
) -> tuple[list[float], list[float]]:
    def op(model: str, image: str, replicas: int, action: str) -> Op:
        values = _row_values(props(dsn, model, image=image, replicas=replicas))

        def run() -> None:
            with psycopg.connect(dsn, autocommit=True) as conn:
                if not with_event:
                    conn.execute(_UPSERT, values).fetchone()
                    return
                with conn.transaction():
                    row = conn.execute(_UPSERT, values).fetchone()
                    assert row is not None
                    conn.execute(_EVENT, (row[0], action, f'{{"image": "{image}"}}', "staging"))

        return run

    creates = _time([op(m, IMAGE_V1, 1, "registered") for m in models])
    updates = _time([op(m, IMAGE_V2, 2, "updated") for m in models])
    return creates, updates


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=DEFAULT_SERVER, help="superuser DSN of the server")
    parser.add_argument("--count", type=int, default=100, help="registrations (then updates)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; figures pool all rounds")
    args = parser.parse_args(argv)

    programs: dict[str, Callable[[str, list[str]], tuple[list[float], list[float]]]] = {
        "provider": run_provider,
        "plain, 1 conn": run_plain_one_connection,
        "plain, conn/op": run_plain_per_op,
        "plain+event, conn/op": lambda d, m: run_plain_per_op(d, m, with_event=True),
    }
    creates: dict[str, list[float]] = {k: [] for k in programs}
    updates: dict[str, list[float]] = {k: [] for k in programs}
    totals: dict[str, list[float]] = {k: [] for k in programs}
    with database(args.server) as dsn:
        migrate(dsn)
        # Warm-up: first connection, prepared plans, imports.
        run_provider(dsn, ["warm-up"])
        for rnd in range(args.repeat):
            for p, (key, run) in enumerate(programs.items()):
                models = [f"m-{rnd}-{p}-{i:04d}" for i in range(args.count)]
                start = time.perf_counter()
                c, u = run(dsn, models)
                totals[key].append(time.perf_counter() - start)
                creates[key] += c
                updates[key] += u

    ms = 1000.0
    print(
        f"{args.count} creates then {args.count} updates per round, {args.repeat} rounds "
        f"(percentiles over all {args.count * args.repeat} operations of each kind)\n"
    )
    header = (
        f"{'program':<22} {'create p50':>10} {'p95':>7} {'update p50':>10} {'p95':>7} "
        f"{'creates s':>13} {'round s':>8}"
    )
    print(header)
    print("-" * len(header))
    for key in programs:
        c, u = creates[key], updates[key]
        per_round_creates = statistics.median(
            sum(c[i * args.count : (i + 1) * args.count]) for i in range(args.repeat)
        )
        print(
            f"{key:<22} {ms * _pct(c, 0.5):>8.2f}ms {ms * _pct(c, 0.95):>5.2f}ms "
            f"{ms * _pct(u, 0.5):>8.2f}ms {ms * _pct(u, 0.95):>5.2f}ms "
            f"{per_round_creates:>13.3f} "
            f"{statistics.median(totals[key]):>8.3f}"
        )
    print("\nprovider p50 / plain p50 (create, update):")
    for key in list(programs)[1:]:
        rc = _pct(creates["provider"], 0.5) / _pct(creates[key], 0.5)
        ru = _pct(updates["provider"], 0.5) / _pct(updates[key], 0.5)
        print(f"  vs {key:<22} create {rc:5.2f}x   update {ru:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
