"""Pure provider logic: what changes cause updates or replacements, what inputs are refused."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.output import Unknown
from pulumi.runtime.rpc import wrap_rpc_secret

from components.registry.providers.entry import check_entry, diff_entry
from components.registry.providers.rollout import diff_rollout
from components.registry.providers.schema import diff_schema

UNKNOWN: Any = Unknown()  # type: ignore[no-untyped-call]
DSN = "host=db dbname=registry user=writer password=pw"


def _props(**overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "connection": DSN,
        "model_name": "llama",
        "environment": "staging",
        "endpoint_url": "http://llama.vllm-staging.svc.cluster.local:8000/v1",
        "routing_enabled": True,
        "namespace": "vllm-staging",
        "deployment_name": "llama",
        "image": "vllm/vllm-openai:v0.11.0",
        "hf_model_id": "meta-llama/Llama-3.1-8B-Instruct",
        "model_revision": "main",
        "max_model_len": 8192.0,
        "gpu_type": "NVIDIA RTX 4000 Ada",
        "gpus_per_replica": 1.0,
        "replicas": 2.0,
        "stack": "staging",
        "owner_stack": "vllm-platform/staging",
        "smoke_evidence": "llama-smoke-0a1b2c3d",
        "change_kind": "deploy",
        "note": None,
    }
    props.update(overrides)
    return props


def test_identical_inputs_are_no_change() -> None:
    result = diff_entry(_props(entry_id=1.0, health_status="healthy"), _props())
    assert (result.changes, result.replaces) == (False, [])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("image", "vllm/vllm-openai:v0.12.0"),
        ("replicas", 3.0),
        ("routing_enabled", False),
        ("endpoint_url", "http://other/v1"),
        ("connection", "host=db dbname=registry user=writer password=rotated"),
        ("owner_stack", "vllm-platform/staging-copy"),
        ("smoke_evidence", "llama-smoke-99999999"),
        ("rollout", "llama-smoke-99999999@2026-12-01T10:00:00+00:00"),
    ],
)
def test_a_changed_field_or_connection_is_an_update_in_place(field: str, value: Any) -> None:
    result = diff_entry(_props(), _props(**{field: value}))
    assert (result.changes, result.replaces) == (True, [])


@pytest.mark.parametrize("field", ["environment", "model_name"])
def test_a_changed_key_replaces_the_entry(field: str) -> None:
    value = "production" if field == "environment" else "renamed"
    result = diff_entry(_props(), _props(**{field: value}))
    assert (result.changes, result.replaces) == (True, [field])


def test_change_kind_and_note_alone_never_cause_a_change() -> None:
    news = _props(change_kind="rollback", note="rollback to 41")
    assert diff_entry(_props(), news).changes is False


def test_a_row_found_retired_by_refresh_is_an_update_that_reactivates_it() -> None:
    assert diff_entry(_props(health_status="retired"), _props()).changes is True


def test_a_row_found_owned_by_another_stack_is_drift() -> None:
    mine = _props(row_owner_stack="vllm-platform/staging")
    assert diff_entry(mine, _props()).changes is False
    assert diff_entry(_props(row_owner_stack=None), _props()).changes is False  # unclaimed
    adopted = _props(row_owner_stack="vllm-platform/staging-copy")
    assert diff_entry(adopted, _props()).changes is True


@pytest.mark.parametrize(
    ("health", "routing", "changes"),
    [
        ("unhealthy", False, False),  # the reporter took it out of routing: not drift
        ("healthy", False, True),  # turned off by hand: drift
        ("unknown", False, True),
    ],
)
def test_routing_off_is_drift_unless_the_row_is_unhealthy(
    health: str, routing: bool, changes: bool
) -> None:
    olds = _props(health_status=health, routing_enabled=routing)
    assert diff_entry(olds, _props()).changes is changes
    # Any other change still updates the held row.
    held = _props(health_status="unhealthy", routing_enabled=False)
    assert diff_entry(held, _props(replicas=3.0)).changes is True


def test_unknown_values_during_preview_count_as_changes() -> None:
    result = diff_entry(_props(), _props(endpoint_url=UNKNOWN))
    assert result.changes is True
    assert diff_entry(_props(), _props(model_name=UNKNOWN)).replaces == ["model_name"]


def test_a_secret_wrapped_connection_compares_by_value() -> None:
    assert diff_entry(_props(), _props(connection=wrap_rpc_secret(DSN))).changes is False


def test_check_accepts_valid_inputs_and_unknowns() -> None:
    assert check_entry(_props()) == []
    assert check_entry(_props(image=UNKNOWN, replicas=UNKNOWN)) == []


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("environment", "prod", "must be one of"),
        ("endpoint_url", "ftp://x/v1", "not an http(s) URL"),
        ("endpoint_url", "http://x /v1", "not an http(s) URL"),
        ("replicas", -1.0, "must be >= 0"),
        ("max_model_len", 0.0, "must be >= 1"),
        ("gpus_per_replica", 1.5, "must be an integer"),
        ("routing_enabled", "yes", "must be true or false"),
        ("image", "", "must be a non-empty string"),
        ("stack", None, "is required"),
        ("owner_stack", None, "is required"),
        ("owner_stack", "staging", "must be <project>/<stack>"),
        ("smoke_evidence", "", "must be a non-empty string or null"),
        ("change_kind", "hotfix", "must be one of"),
    ],
)
def test_check_refuses_impossible_inputs(field: str, value: Any, reason: str) -> None:
    failures = check_entry(_props(**{field: value}))
    assert [(f.property, reason in f.reason) for f in failures] == [(field, True)]


ADAPTER = {"base_model_name": "llama", "adapter_hf_repo": "org/sql-lora", "adapter_revision": "c"}


def test_check_takes_an_adapters_entry_whole_and_refuses_part_of_one() -> None:
    assert check_entry(_props(model_name="sql-expert", **ADAPTER)) == []
    for missing in ADAPTER:
        failures = check_entry(_props(model_name="sql-expert", **{**ADAPTER, missing: None}))
        assert [(f.property, "needs all of" in f.reason) for f in failures] == [
            ("base_model_name", True)
        ]


def _schema(**overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "connection": DSN,
        "database": "registry",
        "migrations": {"0001_model_registry": "a" * 64, "0002_health_check": "b" * 64},
    }
    props.update(overrides)
    return props


def test_schema_diff_reflects_the_migration_files() -> None:
    assert diff_schema(_schema(), _schema()).changes is False
    added = _schema(migrations={**_schema()["migrations"], "0003_more": "c" * 64})
    edited = _schema(migrations={**_schema()["migrations"], "0002_health_check": "d" * 64})
    assert diff_schema(_schema(), added).changes is True
    assert diff_schema(_schema(), edited).changes is True
    # The database may record migrations newer than this checkout: not a change.
    assert diff_schema(added, _schema()).changes is False


def test_schema_diff_replaces_on_another_database_and_updates_on_a_new_connection() -> None:
    moved = diff_schema(_schema(), _schema(database="registry2"))
    assert (moved.changes, moved.replaces) == (True, ["database"])
    rotated = diff_schema(_schema(), _schema(connection=DSN + "x"))
    assert (rotated.changes, rotated.replaces) == (True, [])


def _rollout(**overrides: Any) -> dict[str, Any]:
    return {
        "connection": DSN,
        "environment": "staging",
        "model_name": "llama",
        "owner_stack": "vllm-platform/staging",
        "stack": "staging",
        "target_image": "vllm/vllm-openai:v0.11.0",
        "target_revision": "main",
        "target_smoke_job": "llama-smoke-0a1b2c3d",
        "deadline_seconds": 3600.0,
        "note": None,
        **overrides,
    }


@pytest.mark.parametrize(
    ("field", "value", "changes", "replaces"),
    [
        ("note", "rollback to stack version 7", False, []),
        ("target_image", "vllm/vllm-openai:v0.12.0", True, []),
        ("target_smoke_job", "llama-smoke-99999999", True, []),
        ("target_smoke_job", UNKNOWN, True, []),
        ("connection", DSN + "x", True, []),
        ("model_name", "other", True, ["model_name"]),
    ],
)
def test_rollout_diff(field: str, value: Any, changes: bool, replaces: list[str]) -> None:
    olds = _rollout(rollout_id="llama-smoke-0a1b2c3d", health_status="healthy")
    result = diff_rollout(olds, _rollout(**{field: value}))
    assert (result.changes, result.replaces) == (changes, replaces)
    assert diff_rollout(olds, _rollout()).changes is False
