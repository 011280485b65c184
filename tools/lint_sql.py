"""Lint the project's SQL with PostgreSQL's own parser (pglast's libpg_query): every registry
migration and every SQL asset, plpgsql function bodies included. A psql script's meta-commands
(`\\copy`, `\\gexec`, `\\g FILE`) end its statements and its `:'var'` interpolations stand for
literals, as psql treats them. `make lint` runs it; exit 1 names each file, line and error.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pglast
from pglast import parse_plpgsql

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("components/registry/migrations/*.sql", "components/manifests/assets/*.sql")
_META_LINE = re.compile(r"^\s*\\.*$", re.MULTILINE)  # a line that is a psql meta-command
_META_TAIL = re.compile(r"\s\\g\b.*$", re.MULTILINE)  # `query \g FILE` ends a query
_VARIABLE = re.compile(r"(?<!:):'[A-Za-z_][A-Za-z0-9_]*'")  # psql's :'var', a quoted literal


def as_server_sql(script: str) -> str:
    """The SQL the server sees of a psql script; line numbers are kept."""
    sql = _META_TAIL.sub(";", script)
    sql = _META_LINE.sub(";", sql)
    return _VARIABLE.sub("'x'", sql)


def _line_of(text: bytes, offset: int) -> int:
    return text[:offset].count(b"\n") + 1


def problems(text: str) -> list[str]:
    """Each parse error of ``text`` as "line N: error" (empty when it parses)."""
    sql = as_server_sql(text)
    encoded = sql.encode("utf-8")
    try:
        statements = pglast.parse_sql(sql)
    except pglast.parser.ParseError as err:
        message, offset = err.args
        return [f"line {_line_of(encoded, offset)}: {message}"]
    found = []
    for raw in statements:
        start = raw.stmt_location or 0
        end = start + raw.stmt_len if raw.stmt_len else len(encoded)
        source = encoded[start:end].decode("utf-8")
        if _is_plpgsql_function(raw.stmt):
            try:
                parse_plpgsql(source)
            except pglast.parser.ParseError as err:
                found.append(f"line {_line_of(encoded, start)}: plpgsql: {err.args[0]}")
    return found


def _is_plpgsql_function(stmt: object) -> bool:
    if type(stmt).__name__ != "CreateFunctionStmt":
        return False
    options = getattr(stmt, "options", None) or ()
    return any(o.defname == "language" and o.arg.sval == "plpgsql" for o in options)


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(p for g in SOURCES for p in ROOT.glob(g))
    failed = False
    for path in paths:
        for problem in problems(path.read_text(encoding="utf-8")):
            print(f"{path}: {problem}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
