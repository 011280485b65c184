"""ops/table.py: the one table layout of `ops plan`, `ops history` and `ops registry list`."""

from __future__ import annotations

from ops.table import table_lines


def test_columns_align_to_the_widest_cell_without_trailing_spaces() -> None:
    rows = [["MODEL", "GPUS", "NOTE"], ["llama-3-1-8b", "1x1", ""], ["a", "2x4", "x"]]
    assert table_lines(rows) == [
        "MODEL         GPUS  NOTE",
        "llama-3-1-8b  1x1",
        "a             2x4   x",
    ]


def test_rule_underlines_the_header() -> None:
    assert table_lines([("ENV", "MODEL"), ("staging", "m")], rule=True) == [
        "ENV      MODEL",
        "-------  -----",
        "staging  m",
    ]
