"""The one way ops commands print a table: columns left-aligned to their widest cell, two spaces
apart, no trailing spaces."""

from __future__ import annotations

from collections.abc import Sequence


def table_lines(rows: Sequence[Sequence[str]], *, rule: bool = False) -> list[str]:
    """The table's lines; the first row is the header, underlined with dashes when ``rule``."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    if rule:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return lines
