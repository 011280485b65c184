"""Functions run in spawned processes by the concurrency tests (importable by the children)."""

from __future__ import annotations

import time
from dataclasses import replace

from components.registry import store
from components.registry.connection import connect
from components.registry.migrate import migrate
from tests.integration.helpers import spec


def _wait(start_at: float) -> None:
    time.sleep(max(0.0, start_at - time.time()))


def migrate_at(dsn: str, start_at: float) -> list[int]:
    """Wait for the common start time, then migrate; returns the versions this process applied."""
    _wait(start_at)
    return migrate(dsn)


def register_at(dsn: str, start_at: float, worker: int, count: int) -> list[str]:
    """Register ``count`` models of this worker across the environments, then update each once."""
    _wait(start_at)
    environments = ("development", "staging", "production")
    done: list[str] = []
    with connect(dsn, autocommit=True) as conn:
        for i in range(count):
            s = spec(
                model_name=f"model-w{worker}-{i}",
                environment=environments[i % len(environments)],
                stack=environments[i % len(environments)],
            )
            store.register(conn, s)
            store.register(conn, replace(s, replicas=3))
            done.append(f"{s.environment}/{s.model_name}")
        # Every worker also registers the same model: one row, the others update it.
        store.register(conn, spec(model_name="shared-model", replicas=worker + 1))
    return done
