"""A rollback across a model rename creates the old name's workload before it deletes today's:
refused when the GPU quota cannot hold both (components/planning/transitions.py)."""

from __future__ import annotations

import json

import pytest

from ops.common import CommandError
from ops.history import ConfigEntry, Update, parse_history
from ops.rollback_command import plan_or_fail
from tests.fixtures.history import SHOWN

P = "vllm-platform:"


def _updates() -> list[Update]:
    return parse_history(json.loads(SHOWN.read_text()))


def _current(rename_to: str | None = None) -> dict[str, ConfigEntry]:
    config = dict(next(u for u in _updates() if u.version == 8).config)
    if rename_to is not None:
        models = config[f"{P}models"].semantic()
        models[0]["name"] = rename_to
        config[f"{P}models"] = ConfigEntry(
            secret=False, text=json.dumps(models), is_object=True, object_value=models
        )
    return config


def test_a_rollback_across_a_rename_the_quota_cannot_hold_is_refused() -> None:
    with pytest.raises(CommandError) as err:
        plan_or_fail(_updates(), 5, _current(rename_to="llama-70b"), "production")
    text = str(err.value)
    assert "the GPU quota cannot hold both" in text
    assert "models[0].name: llama-3-3-70b-instruct is new (replacing llama-70b)" in text
    assert "requests 13 GPUs at the update's peak and its quota holds 10: refused" in text
    assert "first remove models[0] (llama-70b) and run `pulumi up`" in text


def test_a_rollback_that_keeps_every_name_is_planned() -> None:
    plan = plan_or_fail(_updates(), 5, _current(), "production")
    assert f"{P}models" in plan.to_set
