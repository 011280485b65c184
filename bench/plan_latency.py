"""Offline plan latency: wall time of ``python -m ops plan --stack STACK`` as a subprocess.

Usage: ``.venv/bin/python bench/plan_latency.py [--stack production] [--runs 10] [--top 15]``

Runs the command ``--runs`` times (plus one untimed warm-up so the OS file cache is warm) and
prints min/median/max, then one ``-X importtime`` run's slowest imports (cumulative) and the
total import time, and which heavy packages the command does NOT import (pulumi, psycopg,
pulumi_kubernetes: a plan needs none of them).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pulumi", "pulumi_kubernetes", "pulumi_linode", "psycopg", "grpc", "kubernetes_validate")


def command(stack: str) -> list[str]:
    return [sys.executable, "-m", "ops", "plan", "--stack", stack]


def once(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def import_times(stack: str) -> list[tuple[int, int, str]]:
    """(self us, cumulative us, module) of every import of one run."""
    cmd = [sys.executable, "-X", "importtime", *command(stack)[1:]]
    proc = subprocess.run(
        cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    out: list[tuple[int, int, str]] = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative, name = line.removeprefix("import time:").split("|", 2)
        out.append((int(self_us), int(cumulative), name.rstrip().removeprefix(" ")))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default="production")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--top", type=int, default=15, help="slowest imports to list")
    args = parser.parse_args(argv)

    cmd = command(args.stack)
    once(cmd)  # warm-up
    runs = [once(cmd) for _ in range(args.runs)]
    baseline = [once([sys.executable, "-c", "pass"]) for _ in range(args.runs)]
    print(f"command: {' '.join(['python', *cmd[1:]])}   ({args.runs} runs)")
    print(f"{'':<24} {'min s':>7} {'median s':>9} {'max s':>7}")
    for label, values in (("ops plan", runs), ("python -c pass", baseline)):
        print(
            f"{label:<24} {min(values):>7.3f} {statistics.median(values):>9.3f} {max(values):>7.3f}"
        )

    imports = import_times(args.stack)
    top_level = [i for i in imports if not i[2].startswith(" ")]
    total_ms = sum(i[1] for i in top_level) / 1000
    print(f"\n-X importtime: {len(imports)} modules, {total_ms:.0f} ms cumulative (top level)")
    print(f"{'cumulative ms':>13} {'self ms':>8}  module")
    for self_us, cumulative, name in sorted(imports, key=lambda i: -i[1])[: args.top]:
        print(f"{cumulative / 1000:>13.1f} {self_us / 1000:>8.1f}  {name}")
    loaded = {i[2].strip() for i in imports}
    absent = [h for h in HEAVY if h not in loaded]
    present = [h for h in HEAVY if h in loaded]
    print(f"\nnot imported: {', '.join(absent) or '-'}; imported: {', '.join(present) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
