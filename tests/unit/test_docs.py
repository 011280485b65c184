"""The docs stay true: every backticked repository path in README.md, CONTRIBUTING.md and docs/
exists, every `python -m ops ...` and `make ...` command they show parses, `make help` lists
every target, and the router team's contract names every column, state and event the
migrations create.

A restructure that moves a module must move the docs' references with it; a path that no
longer exists, or a command that no longer parses, sends a reader nowhere.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.__main__ import build_parser
from tests.support.stackfiles import ROOT

# `components/...`, `tests/.../x.py`, `docs/x.md`, ... optionally with ::test or :line suffixes.
_TOP = ("components", "ops", "policy", "tests", "bench", "tools", "docs", "schema", "examples")
_PATH = re.compile(r"`((?:" + "|".join(_TOP) + r")/[A-Za-z0-9_./*-]+)")
_INLINE = re.compile(r"`((?:python -m ops|make) [^`]+)`")
_FENCE = re.compile(r"^```[a-z]*\n(.*?)^```", re.S | re.M)
_MAKE_TARGET = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*):(?!=)", re.M)


def _doc_files() -> list[str]:
    docs = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))
    return ["README.md", "CONTRIBUTING.md", *docs]


def _text(doc: str) -> str:
    return (ROOT / doc).read_text(encoding="utf-8")


def test_every_path_the_docs_name_exists() -> None:
    missing: list[str] = []
    seen = 0
    for doc in _doc_files():
        for match in _PATH.finditer(_text(doc)):
            path = match.group(1).split("::")[0].rstrip(".,:;)")
            path = re.sub(r":[0-9-]+$", "", path)
            if "*" in path or "<" in path:
                continue
            seen += 1
            if not (ROOT / path).exists():
                missing.append(f"{doc}: {path}")
    assert seen > 50  # the scan found the references
    assert not missing, "\n".join(missing)


def _commands(text: str) -> Iterator[str]:
    """`python -m ops ...` and `make ...` commands: inline code, and lines of code blocks
    (continuation lines joined, comments dropped)."""
    yield from (m.group(1) for m in _INLINE.finditer(text))
    for block in _FENCE.finditer(text):
        for raw in block.group(1).replace("\\\n", " ").splitlines():
            line = raw.split(" #", 1)[0].strip()
            if line.startswith(("python -m ops ", "make ")) or line == "make":
                yield line


def _words(command: str) -> list[str]:
    """The command's words with the docs' notation undone: `[--yes]` is optional, `|` joins
    alternatives (the first is taken)."""
    command = re.sub(r"\[([^\]]*)\]", r"\1", command)
    return shlex.split(command.split(" | ")[0])


class _RefusedError(Exception):
    pass


def _ops_error(command: list[str]) -> str | None:
    """Why `python -m ops` would refuse the command, or None. A missing required argument is
    accepted: prose may name a command without every argument it needs."""
    parser = build_parser()

    def error(_self: argparse.ArgumentParser, message: str) -> None:
        raise _RefusedError(message)

    original = argparse.ArgumentParser.error
    argparse.ArgumentParser.error = error  # type: ignore[method-assign,assignment]
    try:
        parser.parse_args(command)
    except _RefusedError as exc:
        message = str(exc)
        # An upper-case word is a placeholder (`--to N`, `--environment S`), not a value.
        placeholder = re.search(r"invalid (?:int value|choice): '([A-Z]+)'", message)
        return None if "arguments are required" in message or placeholder else message
    finally:
        argparse.ArgumentParser.error = original  # type: ignore[method-assign]
    return None


def _make_targets() -> set[str]:
    return set(_MAKE_TARGET.findall((ROOT / "Makefile").read_text(encoding="utf-8")))


def test_every_command_the_docs_show_parses() -> None:
    targets = _make_targets()
    wrong: list[str] = []
    seen = 0
    for doc in _doc_files():
        for command in _commands(_text(doc)):
            seen += 1
            words = _words(command)
            if words[0] == "make":
                goals = [w for w in words[1:] if "=" not in w and not w.startswith("-")]
                wrong += [f"{doc}: `{command}`: no target {g}" for g in goals if g not in targets]
                continue
            why = _ops_error(words[3:])
            if why is not None:
                wrong.append(f"{doc}: `{command}`: {why}")
    assert seen > 30  # the scan found the commands
    assert not wrong, "\n".join(wrong)


def test_the_command_check_refuses_an_unknown_option_or_command() -> None:
    assert _ops_error(["plan", "--stack", "production", "--against", "main"]) is None
    assert _ops_error(["render", "--stack", "production"]) is None  # --out: a prose mention
    assert "unrecognized arguments" in str(_ops_error(["plan", "--stak", "production"]))
    assert "invalid choice" in str(_ops_error(["deploi", "--stack", "production"]))
    assert list(_commands("run `make plan STACK=x` and\n```sh\nmake tst  # typo\n```\n")) == [
        "make plan STACK=x",
        "make tst",
    ]


def test_make_help_lists_every_target() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    result = subprocess.run(
        [make, "-s", "-C", str(ROOT), "help"], capture_output=True, text=True, check=True
    )
    listed = set(re.findall(r"^make ([a-z-]+)", result.stdout, re.M))
    targets = _make_targets()
    assert {"help", "test", "lint", "plan", "preview", "up"} <= targets
    assert targets <= listed, f"make help does not list: {sorted(targets - listed)}"


def test_make_preview_without_the_cli_says_how_to_get_it() -> None:
    make = shutil.which("make")
    if make is None or shutil.which("pulumi", path="/usr/bin:/bin"):
        pytest.skip("needs make, and no pulumi in /usr/bin:/bin")
    for goal in ("preview", "up"):
        result = subprocess.run(
            [make, "-s", "-C", str(ROOT), goal, "STACK=development"],
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT)},
        )
        assert result.returncode != 0
        assert "command not found" not in result.stderr.replace("(pulumi: command not found)", "")
        assert f"make {goal}: the Pulumi CLI is not installed" in result.stderr
        assert "https://www.pulumi.com/docs/install/" in result.stderr


# ------------------------------------------------------------- the router team's contract

_MIGRATIONS = ROOT / "components" / "registry" / "migrations"


def _migrations() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(_MIGRATIONS.glob("*.sql")))


def test_the_registry_contract_names_every_column_state_and_event() -> None:
    sql = _migrations()
    contract = _text("docs/registry-contract.md")
    entries = set(re.findall(r"ADD COLUMN IF NOT EXISTS (\w+)", sql))
    events = {"id", "entry_id", "action", "old_values", "new_values", "at", "stack", "note"}
    # The newest CHECK of each kind is the one in force.
    states = re.findall(r"CHECK \(legacy_row OR \(health_status IN \(([^)]*)\)", sql)[-1]
    actions = re.findall(r"CHECK \(action IN \(([^)]*)\)", sql)[-1]
    words = {
        *entries,
        *events,
        *re.findall(r"'+(\w+)'", states),
        *re.findall(r"'(\w+)'", actions),
    }
    assert {"owner_stack", "rolling_out", "adopted", "target_smoke_job"} <= words
    undocumented = sorted(w for w in words if f"`{w}`" not in contract)
    assert not undocumented, f"docs/registry-contract.md does not describe: {undocumented}"


def test_a_fresh_make_test_says_what_it_installs_and_builds_no_checkov(tmp_path: Path) -> None:
    """What a first `make test` would run (make -n, a virtualenv that does not exist): it
    announces the install and its usual duration, and leaves checkov's virtualenv to the
    checkov tests (tests/support/checkov.py builds it through its own rule)."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    venv = tmp_path / "venv"
    result = subprocess.run(
        [make, "-n", "-C", str(ROOT), "test", f"VENV={venv}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "requirements-dev.txt" in result.stdout and "minutes" in result.stdout
    assert "checkov" not in result.stdout
    checkov = subprocess.run(
        [make, "-n", "-C", str(ROOT), f"{venv}/checkov/.installed", f"VENV={venv}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "requirements-checkov.txt" in checkov.stdout


_SOURCE_PATH = re.compile(
    r"\b((?:" + "|".join(_TOP) + r")/[A-Za-z0-9_./-]+\.(?:py|md|json|sql|sh|yaml|txt))\b"
)


def test_every_path_the_code_names_exists() -> None:
    """Docstrings and comments send a maintainer to files too (a module's contract test, the
    provider it wraps); a moved or never-written file there is the same dead end."""
    missing: list[str] = []
    seen = 0
    for top in ("components", "ops", "policy", "bench", "tools"):
        for source in sorted((ROOT / top).rglob("*.py")):
            for match in _SOURCE_PATH.finditer(source.read_text(encoding="utf-8")):
                seen += 1
                if not (ROOT / match.group(1)).exists():
                    missing.append(f"{source.relative_to(ROOT)}: {match.group(1)}")
    assert seen > 30  # the scan found the references
    assert not missing, "\n".join(missing)
