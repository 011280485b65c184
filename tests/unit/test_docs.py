"""The docs point at files that exist: every backticked repository path in README.md and docs/.

A restructure that moves a module must move the docs' references with it; a path that no
longer exists sends a reader nowhere.
"""

from __future__ import annotations

import re

from tests.support.stackfiles import ROOT

# `components/...`, `tests/.../x.py`, `docs/x.md`, ... optionally with ::test or :line suffixes.
_TOP = ("components", "ops", "policy", "tests", "bench", "tools", "docs", "schema", "examples")
_PATH = re.compile(r"`((?:" + "|".join(_TOP) + r")/[A-Za-z0-9_./*-]+)")


def _doc_files() -> list[str]:
    return ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]


def test_every_path_the_docs_name_exists() -> None:
    missing: list[str] = []
    seen = 0
    for doc in _doc_files():
        for match in _PATH.finditer((ROOT / doc).read_text(encoding="utf-8")):
            path = match.group(1).split("::")[0].rstrip(".,:;)")
            path = re.sub(r":[0-9-]+$", "", path)
            if "*" in path or "<" in path:
                continue
            seen += 1
            if not (ROOT / path).exists():
                missing.append(f"{doc}: {path}")
    assert seen > 50  # the scan found the references
    assert not missing, "\n".join(missing)
