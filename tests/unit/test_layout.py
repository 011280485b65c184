"""The house rules a reader relies on: small modules, and a contract module policy/ can import."""

from __future__ import annotations

import ast
import sys

import pytest

from tests.support.stackfiles import ROOT

MAX_LINES = 500
SOURCE_DIRS = ("components", "ops", "policy", "bench", "tests", "tools")


def _python_files() -> list[str]:
    return sorted(
        str(p.relative_to(ROOT))
        for d in SOURCE_DIRS
        if (ROOT / d).is_dir()
        for p in (ROOT / d).rglob("*.py")
        if ".venv" not in p.parts
    )


def test_no_module_is_over_500_lines() -> None:
    sizes = {p: (ROOT / p).read_text(encoding="utf-8").count("\n") for p in _python_files()}
    assert len(sizes) > 100  # the walk found the tree
    too_long = {p: n for p, n in sizes.items() if n > MAX_LINES}
    assert not too_long, f"split these by concern: {too_long}"


@pytest.mark.parametrize("module", ["contract.py", "vllm_contract.py"])
def test_the_contract_modules_import_only_the_standard_library(module: str) -> None:
    """policy/ runs in the pack's environment and imports components.contract alone; the
    vLLM contract loader is read by config, planning and tests alike."""
    tree = ast.parse((ROOT / "components" / module).read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 0
    }
    assert imported <= set(sys.stdlib_module_names), sorted(imported - sys.stdlib_module_names)


PRODUCT_DIRS = ("components", "ops", "policy", "bench", "tools")
MAX_FUNCTION_LINES = 60


def _trees(dirs: tuple[str, ...]) -> dict[str, ast.Module]:
    return {
        p: ast.parse((ROOT / p).read_text(encoding="utf-8"))
        for p in _python_files()
        if p.split("/")[0] in dirs
    }


def test_no_product_function_is_over_60_lines() -> None:
    """#21: split by meaning; tools/ too (they write the data every contract test reads)."""
    too_long = {
        f"{path}:{node.lineno} {node.name}": (node.end_lineno or node.lineno) - node.lineno + 1
        for path, tree in _trees(PRODUCT_DIRS).items()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (node.end_lineno or node.lineno) - node.lineno + 1 > MAX_FUNCTION_LINES
    }
    assert not too_long, too_long
