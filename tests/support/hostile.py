"""The harness of the hostile stack-file suites: change one thing in a committed stack file, run
`ops plan` in-process, and check it was refused at its key path (exit 2, no traceback) or
handled safely.

A ``Case`` changes the parsed document (``change``) or the file's text (``text``); ``path`` is
the key path the refusal must name, ``safe`` checks the outcome of an accepted file instead.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops.__main__ import main
from tests.support.stackfiles import ROOT

P = "vllm-platform:"
HF = "hf_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3"  # a token-shaped string, never a real one

Doc = dict[str, Any]


def _node(doc: Doc, path: str) -> tuple[Any, str | int]:
    """The parent of ``path`` (``models[0].extraArgs``, top-level keys prefixed) and its key."""
    parts: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        parts.append(int(index) if index else name)
    first = parts[0]
    if isinstance(first, str) and ":" not in first:
        parts[0] = P + first
    node: Any = doc["config"]
    for part in parts[:-1]:
        node = node[part]
    return node, parts[-1]


def put(path: str, value: Any) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        parent, key = _node(doc, path)
        parent[key] = value

    return apply


def drop(path: str) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        parent, key = _node(doc, path)
        del parent[key]

    return apply


def both(*changes: Callable[[Doc], None]) -> Callable[[Doc], None]:
    def apply(doc: Doc) -> None:
        for change in changes:
            change(doc)

    return apply


def args(*flags: str, model: int = 1) -> Callable[[Doc], None]:
    return put(f"models[{model}].extraArgs", list(flags))


@dataclass(frozen=True)
class Case:
    id: str
    change: Callable[[Doc], None] | None = None
    text: Callable[[str], str] | None = None
    path: str = ""  # refused: this key path is in the message
    safe: Callable[[str, Path], None] | None = None  # handled safely: (plan output, file)
    stack: str = "production"
    never_echoed: str = ""
    file_stack: str = "hostile"  # the file is Pulumi.<file_stack>.yaml: the stack's name


def rendered(path: Path) -> list[dict[str, Any]]:
    """Every object `ops render` writes for the stack file at ``path``."""
    out = path.parent / "render"
    assert main(["render", "--file", str(path), "--out", str(out)]) == 0
    return [yaml.safe_load(f.read_text()) for f in sorted(out.glob("*.yaml"))]


def run_case(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Write the changed stack file, run `ops plan` on it, and check the outcome."""
    text = (ROOT / f"Pulumi.{case.stack}.yaml").read_text()
    if case.change is not None:
        doc = yaml.safe_load(text)
        case.change(doc)
        text = yaml.safe_dump(doc, sort_keys=False)
    if case.text is not None:
        text = case.text(text)
    path = tmp_path / f"Pulumi.{case.file_stack}.yaml"
    path.write_text(text)
    started = time.monotonic()
    code = main(["plan", "--file", str(path)])
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert elapsed < 5, f"ops plan took {elapsed:.1f}s"
    if case.never_echoed:
        assert case.never_echoed not in out + err
    if case.safe is not None:
        assert code == 0, err
        case.safe(out, path)
        return
    assert code == 2, out
    assert case.path in out, out  # the problems follow the verdict on stdout
