"""A rollback inside a keepPrevious window: the registry half, measured on the real PostgreSQL.

Usage: ``.venv/bin/python bench/rollback_switch.py [--server DSN] [--models 1,10,100]
[--repeat 5]``

Per N: a throwaway database migrated to the newest migration, a production writer role bound
to production (as `pulumi up` binds it), N models each registered at an old then a new revision
with smoke evidence, the old one kept as the rollback target (``keep_previous``, 30 min); then
the timed part: ``switch_to_previous`` for every model over one writer connection (what a
rollback of the whole stack does in the registry), and the same for one model. The Service's
selector patch is the other half of the switch and is not measured here (no cluster).
The figures: docs/benchmarks.md, "Rollback switch".
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from components.registry import store  # noqa: E402
from components.registry.connection import connect  # noqa: E402
from components.registry.migrate import migrate  # noqa: E402
from components.registry.previous import (  # noqa: E402
    PreviousRevision,
    keep_previous,
    switch_to_previous,
)
from components.registry.writers import bind_writer  # noqa: E402
from tests.integration.conftest import database, roles  # noqa: E402
from tests.integration.helpers import spec, writer_roles  # noqa: E402

OWNER = "vllm-platform/production"


def _one_run(server: str, models: int) -> tuple[float, float]:
    """(seconds to switch every model back, median seconds of one model's switch)."""
    with database(server) as owner, roles(owner) as make:
        migrate(owner)
        role, writer = writer_roles(owner, make, ["production"])["production"]
        with psycopg.connect(owner, autocommit=True) as conn:
            bind_writer(conn, role, "production", OWNER)
        base = replace(spec(), environment="production", stack="production")
        names = [f"m-{i:04d}" for i in range(models)]
        with connect(writer, autocommit=True) as conn:
            for name in names:
                old = replace(base, model_name=name)
                new = replace(old, image="vllm/vllm-openai:v0.11.2", model_revision="a" * 40)
                store.register(conn, old, evidence=f"{name}-smoke-old")
                store.register(conn, new, evidence=f"{name}-smoke-new")
                previous = PreviousRevision(
                    old.image, old.model_revision, f"{name}-smoke-old", f"{name}-previous"
                )
                keep_previous(conn, "production", name, previous, 30, owner=OWNER, stack="b")
            one: list[float] = []
            start = time.perf_counter()
            for name in names:
                t0 = time.perf_counter()
                done = switch_to_previous(conn, "production", name, owner=OWNER, stack="b")
                one.append(time.perf_counter() - t0)
                if done is None or done.action != "rolled_back":
                    raise SystemExit(f"{name}: not switched ({done})")
            total = time.perf_counter() - start
        return total, statistics.median(one)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--models", default="1,10,100")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("models  all switched (median of runs)  one switch (median)")
    for n in (int(x) for x in args.models.split(",")):
        runs = [_one_run(args.server, n) for _ in range(args.repeat)]
        total = statistics.median(r[0] for r in runs)
        single = statistics.median(r[1] for r in runs)
        print(f"{n:>6}  {total * 1000:>10.1f} ms                  {single * 1000:>7.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
