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


def _parse(path: str) -> ast.Module:
    """``ast.parse``, again after CPython 3.11's spurious "AST constructor recursion depth
    mismatch" SystemError (python/cpython#106905), seen when threads a program test left behind
    (Pulumi's mock runtime) share the worker."""
    text = (ROOT / path).read_text(encoding="utf-8")
    for _ in range(2):
        try:
            return ast.parse(text)
        except SystemError:
            continue
    return ast.parse(text)


def _trees(dirs: tuple[str, ...]) -> dict[str, ast.Module]:
    return {p: _parse(p) for p in _python_files() if p.split("/")[0] in dirs}


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


MAX_DOCSTRING_LINES = 12
# Their bytes key a cache: a change rebuilds the live tier's venv (vllm_env.py's recipe hash) or
# its model (tiny_model.py) on every machine. Trim them with the next change that rebuilds anyway.
CONTENT_KEYED = {"tools/vllm_env.py", "tools/tiny_model.py"}


def test_module_docstrings_say_what_the_module_is_for_in_a_few_lines() -> None:
    """#21: vendor facts and their sources live once, in docs/ (provider-semantics.md,
    vllm-contract.md), not in essays at the top of modules where they go stale."""
    essays = {
        path: doc.count("\n") + 1
        for path, tree in _trees(PRODUCT_DIRS).items()
        if path not in CONTENT_KEYED
        and (doc := ast.get_docstring(tree, clean=False)) is not None
        and doc.strip().count("\n") + 1 > MAX_DOCSTRING_LINES
    }
    assert not essays, essays
