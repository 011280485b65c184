"""bench/health_reporter.py runs the real reporter (sh, curl, psql) against fake endpoints."""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from components.registry.migrate import migrate
from tests.integration.conftest import database

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not all(shutil.which(t) for t in ("sh", "curl", "psql")),
        reason="the health reporter's script needs sh, curl and psql (apt-get install curl "
        "postgresql-client)",
    ),
]


BENCH = Path(__file__).resolve().parents[2] / "bench" / "health_reporter.py"


def _bench() -> Any:
    """bench/health_reporter.py as a module (bench/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("health_reporter_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_model_is_checked_in_one_run_despite_hanging_and_refused_endpoints(
    pg_server: str,
) -> None:
    run_once = _bench().run_once
    with database(pg_server) as dsn, tempfile.TemporaryDirectory() as tmp:
        migrate(dsn)
        result = run_once(dsn, 20, 1, Path(tmp))
    assert result["exit"] == 0, result["stderr"]
    assert result["unchecked"] == 0
    assert result["failing_probes"] == 5  # 2 x 503, 2 hanging, 1 refused of 20
    assert float(str(result["seconds"])) < 10
