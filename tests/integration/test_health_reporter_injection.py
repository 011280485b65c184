"""The probe results are data: the results file is written by the curl container (which model
servers can reach), and no byte of it may reach the writer's psql session as script text. Crafted
results lines through the shipped reporter.sh and report.sql, as the writer, on a real server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration.reporter_harness import (
    ENV,
    HEALTHY,
    PASSWORD_SENTINEL,
    REVIVED,
    SICK,
    SLOW,
    Harness,
)

pytestmark = pytest.mark.integration

SHELLS = [s for s in ("dash", "bash", "busybox") if shutil.which(s)]


def _crafted(marker: Path) -> bytes:
    touch = f"touch {marker}"
    lines = [
        f"{HEALTHY} healthy http_200'\\! {touch}",  # closes a quoted \set, then a meta-command
        f"{HEALTHY} healthy http_200' \\! {touch} #",  # ... whose shell ignores the rest
        f"{SICK} unhealthy http_503\\! {touch}",
        f"{SLOW} unhealthy timeout'; UPDATE model_registry_entries SET routing_enabled = true; --",
        f"\\! {touch}",  # a whole line that is a meta-command
        f"{REVIVED} healthy curl_exit_7\\gexec",
        f'{HEALTHY} healthy "$({touch})" `{touch}` \\\\! {touch}',
        f"\\copy model_registry_entries TO '{marker}'",
        f"{SICK} unhealthy http_503\r\\! {touch}",
        f"{SICK} unhealthy http_5\t03\\o {marker}",
        "alpha' healthy http_200",
        f"{HEALTHY} healthy' http_200\\! {touch}",
    ]
    return "\n".join(lines).encode() + b"\n" + f"{HEALTHY} healthy x\x00\\! {touch}\n".encode()


@pytest.mark.parametrize("shell", SHELLS)
def test_crafted_results_lines_never_reach_psql_as_script(h: Harness, shell: str) -> None:
    marker = h.tmp / "pwned"
    production = h.rows("SELECT * FROM model_registry_entries WHERE environment = 'production'")

    result = h.report(_crafted(marker), shell=shell)

    assert not marker.exists(), result.stdout + result.stderr
    assert PASSWORD_SENTINEL not in result.stdout + result.stderr
    assert result.returncode == 1  # the malformed lines are reported as failures of the run
    assert "skipped: bad model name" in result.stdout
    # The well-formed parts were recorded as plain observations; nothing else moved.
    assert h.entry(SICK)[:2] == ("unhealthy", True)
    assert h.entry(SLOW)[:2] == ("unhealthy", True)
    assert h.entry(HEALTHY)[:2] == ("healthy", True)
    assert (
        h.rows("SELECT * FROM model_registry_entries WHERE environment = 'production'")
        == production
    )
    notes = [str(e[3]) for name in (SICK, SLOW) for e in h.events(name)]
    assert notes and all(set(n) <= set(_SAFE) for n in notes), notes
    assert h.entry(REVIVED)[0] == "unknown"


_SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _./():-"


def test_the_results_reach_the_session_only_on_its_standard_input(h: Harness) -> None:
    # report.sql reads the results with \copy ... FROM pstdin and names none of their values.
    sql_text = (Path(__file__).parents[2] / "components/manifests/assets/report.sql").read_text()
    assert "\\copy probe_result (model_name, status, note) FROM pstdin" in sql_text
    for variable in (":'name'", ":'status'", ":'note'", "\\i", "\\set"):
        assert variable not in sql_text
    result = h.report(f"{SICK} unhealthy http_503\n".encode())
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{SICK}: unhealthy (/health answered HTTP 503); changed from healthy" in result.stdout
    assert h.entry(SICK)[0] == "unhealthy" and ENV == "staging"
