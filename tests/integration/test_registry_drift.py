"""Drift in the registry, as the daily drift check sees it (refresh, then preview).

A refresh calls ``RegistryEntryProvider.read``; the engine stores what it returns as the
resource's outputs, and the next preview calls ``diff(olds=those outputs, news=the program's
inputs)``: the engine sends the prior outputs as ``Olds`` (pulumi/pulumi main 1b5949891b, after
v3.259.0, sdk/go/common/resource/plugin/provider_plugin.go:1352-1361, ``Olds: mOldOutputs``)
and the dynamic provider host hands ``request.olds`` to ``diff`` (pulumi 3.272.0,
sdk/python/lib/pulumi/dynamic/__main__.py:114-121). So a hand edit of a registered column
must come back from ``read`` and make ``diff`` report a change; the health reporter's own
writes must not (the check would fail every day otherwise). Against a real PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from components.registry.providers import RegistryEntryProvider
from tests.integration.helpers import OWNER, engine, entry_props, report_sql

pytestmark = pytest.mark.integration


def _refresh_then_preview(dsn: str, edit: str, *params: Any) -> tuple[Any, bool | None]:
    provider = RegistryEntryProvider()
    created = provider.create(entry_props(dsn))
    assert created.outs is not None
    with psycopg.connect(dsn) as conn:
        conn.execute(edit.encode(), params)
    refreshed = provider.read(created.id, created.outs)
    if refreshed.id is None:
        return refreshed, None  # gone: the preview plans a create
    assert refreshed.outs is not None
    return refreshed, provider.diff(created.id, refreshed.outs, entry_props(dsn)).changes


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("image", "vllm/vllm-openai:v0.9.0"),
        ("endpoint_url", "http://somewhere-else.example:8000/v1"),
        ("routing_enabled", False),
    ],
)
def test_a_hand_edited_registered_column_is_drift(
    migrated_db: str, column: str, value: Any
) -> None:
    refreshed, changes = _refresh_then_preview(
        migrated_db, f"UPDATE model_registry_entries SET {column} = %s", value
    )
    assert refreshed.outs is not None and refreshed.outs[column] == value  # the refresh shows it
    assert changes is True  # the preview wants to put it back: --expect-no-changes fails


def test_a_hand_retired_row_is_gone_so_the_preview_registers_it_again(migrated_db: str) -> None:
    # (Rows cannot be deleted while their events reference them; retiring is the hand edit.)
    refreshed, _ = _refresh_then_preview(
        migrated_db,
        "UPDATE model_registry_entries SET health_status = 'retired', retired_at = now(), "
        "routing_enabled = false",
    )
    assert (refreshed.id, refreshed.outs) == (None, {})


def test_the_health_reporters_writes_are_not_drift(migrated_db: str) -> None:
    refreshed, changes = _refresh_then_preview(
        migrated_db,
        "UPDATE model_registry_entries SET health_status = 'unhealthy', "
        "last_health_check_at = now()",
    )
    assert refreshed.outs is not None and refreshed.outs["health_status"] == "unhealthy"
    assert changes is False


def test_routing_the_reporter_turned_off_is_not_drift_and_stays_off(migrated_db: str) -> None:
    """healthReporter.unhealthyDisablesRouting: the reporter marks the model unhealthy and
    turns routing off; the daily drift check (refresh, then preview) must stay clean."""
    db = migrated_db
    created = engine({"method": "create", "props": entry_props(db)})
    assert "error" not in created, created
    printed = report_sql(
        db,
        env="staging",
        name=created["outs"]["model_name"],
        status="unhealthy",
        disable_routing="true",
        owner=OWNER,
    )
    assert "routing turned off" in printed

    refreshed = engine({"method": "read", "id": created["id"], "olds": created["outs"]})
    outs = refreshed["outs"]
    assert (outs["health_status"], outs["routing_enabled"]) == ("unhealthy", False)  # honest
    preview = engine(
        fresh=False,
        request={"method": "diff", "id": created["id"], "olds": outs, "news": entry_props(db)},
    )
    assert preview["outs"]["changes"] is False

    # A real change (a new replica count) still updates, and keeps the model out of routing.
    news = entry_props(db, replicas=3.0)
    diff = engine(
        fresh=False, request={"method": "diff", "id": created["id"], "olds": outs, "news": news}
    )
    assert diff["outs"]["changes"] is True
    updated = engine(
        fresh=False,
        request={"method": "update", "id": created["id"], "olds": outs, "news": news},
    )
    assert (updated["outs"]["routing_enabled"], updated["outs"]["replicas"]) == (False, 3)
    again = engine(
        fresh=False,
        request={"method": "diff", "id": created["id"], "olds": updated["outs"], "news": news},
    )
    assert again["outs"]["changes"] is False
