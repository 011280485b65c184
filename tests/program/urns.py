"""Record (``--write``) or read the URNs every committed stack registers (see test_urns.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "urns.json"


def recorded_urns() -> dict[str, list[str]]:
    data: dict[str, list[str]] = json.loads(DATA.read_text(encoding="utf-8"))
    return data


def current_urns() -> dict[str, list[str]]:
    from tests.support.harness import run_program
    from tests.support.stackfiles import committed_stacks

    return {s: sorted(r.urn for r in run_program(s).resources) for s in committed_stacks()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="overwrite data/urns.json")
    args = parser.parse_args()
    urns = current_urns()
    if args.write:
        DATA.write_text(json.dumps(urns, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print({stack: len(u) for stack, u in urns.items()})


if __name__ == "__main__":
    main()
