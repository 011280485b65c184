"""Writing a render into a directory without ever losing a file of the user's.

``RENDERED.txt`` lists the files the last render wrote; only those are replaced or removed.
Anything else a tool would apply (``*.yaml``, ``*.yml``, ``*.json``) or that has the name of a
file the render writes stops the command before a file changes, and so does a list naming a
file the render never writes. New files are written beside the old ones first and moved into
place only when all of them could be written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Final

from ops.common import CommandError

MANIFEST: Final = "RENDERED.txt"
_HEADER: Final = (
    "# The files the last `python -m ops render` wrote here, one a line. The next render\n"
    "# replaces or removes exactly these; it leaves every other file alone.\n"
)
_APPLIED_SUFFIXES: Final = (".yaml", ".yml", ".json")


def replace_render(out: Path, files: Mapping[str, str], ours: Callable[[str], bool]) -> None:
    """Write ``files`` (name -> text) into ``out`` in place of the previous render's files.

    ``ours(name)``: whether the render writes files of that name (the list is checked with it).
    Every problem is a ``CommandError`` raised before anything in ``out`` changed.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"--out {out}: cannot make that directory ({exc.strerror})") from None
    previous = _previous(out, ours)
    _refuse_what_is_not_ours(out, previous, set(files))
    staging = _write_aside(out, files)
    try:
        _write_manifest(out, staging, previous | set(files))  # a crash leaves all listed
        for name in sorted(previous - set(files)):
            (out / name).unlink(missing_ok=True)
        for name in files:
            (staging / name).replace(out / name)
        _write_manifest(out, staging, set(files))
    except OSError as exc:
        raise CommandError(f"--out {out}: cannot write there ({exc.strerror})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _previous(out: Path, ours: Callable[[str], bool]) -> set[str]:
    path = out / MANIFEST
    if not path.exists():
        return set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"--out {out}: cannot read {MANIFEST} ({exc})") from None
    names = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    strange = sorted(n for n in names if "/" in n or "\\" in n or not ours(n))
    if strange:
        raise CommandError(
            f"--out {out}: {MANIFEST} lists {strange[0]!r}, which this command never writes; "
            "it was edited: restore it, or render into an empty directory"
        )
    return names


def _refuse_what_is_not_ours(out: Path, previous: set[str], new: set[str]) -> None:
    entries = {p.name: p for p in out.iterdir() if p.name != MANIFEST}
    foreign = sorted(
        name
        for name in entries
        if name not in previous and (name in new or name.endswith(_APPLIED_SUFFIXES))
    )
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise CommandError(
            f"--out {out} holds files this command did not write ({shown}; {MANIFEST} lists "
            "what it wrote); move them away or give an empty directory or an earlier render's, "
            "e.g. render/<stack>"
        )
    for name in sorted(previous):
        path = entries.get(name)
        if path is not None and path.is_dir() and not path.is_symlink():
            raise CommandError(
                f"--out {out}: {name} is a directory now, not the file the last render wrote; "
                "move it away"
            )


def _write_aside(out: Path, files: Mapping[str, str]) -> Path:
    """The new files in a fresh directory inside ``out`` (same file system: moves are renames)."""
    try:
        staging = Path(tempfile.mkdtemp(prefix=".render-", dir=out))
    except OSError as exc:
        raise CommandError(f"--out {out}: cannot write there ({exc.strerror})") from None
    try:
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8")
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise CommandError(f"--out {out}: cannot write there ({exc.strerror})") from None
    return staging


def _write_manifest(out: Path, staging: Path, names: Iterable[str]) -> None:
    path = staging / MANIFEST
    path.write_text(_HEADER + "".join(f"{n}\n" for n in sorted(names)), encoding="utf-8")
    os.replace(path, out / MANIFEST)
