"""`ops rollback` inside a keepPrevious window (ops/rollback_switch.py): a model rolls back by a
switch exactly when the restored config serves, unchanged, the workload still running."""

from __future__ import annotations

from argparse import Namespace
from typing import Any

import pytest

from components.config import StackConfig
from ops.registry_args import DSN_ENV
from ops.rollback_command import registry_switch
from ops.rollback_switch import Switch, kept_switches, switch_lines
from tests.unit.manifests.vllm.support import (
    AFTER,
    BEFORE,
    IMAGE,
    MODEL,
    OLD_REVISION,
    UNTIL,
    kept_rollout,
    stack,
)


def _then(**overrides: Any) -> StackConfig:
    """The config before the rollout: the old revision served, keepPrevious already on."""
    cfg, _, _ = stack(
        model=MODEL, max_nodes=11, revision=OLD_REVISION, rollout={"keepPrevious": 30}, **overrides
    )
    return cfg


def _now() -> StackConfig:
    cfg, _, _ = stack(model=MODEL, max_nodes=11, rollout=kept_rollout())
    return cfg


def test_rolling_back_to_the_kept_revision_inside_its_window_is_a_switch() -> None:
    switches = kept_switches(_now(), _then(), BEFORE)
    assert switches == [Switch("llama-3-1-8b-instruct", IMAGE, OLD_REVISION, UNTIL)]
    [line] = switch_lines(switches)
    assert "no pod restarts" in line and OLD_REVISION in line


def test_after_the_window_or_with_another_spec_the_rollback_restarts_pods() -> None:
    assert kept_switches(_now(), _then(), AFTER) == []
    # The restored config differs in more than the revision: its workload is not the kept one.
    assert kept_switches(_now(), _then(maxModelLen=8192), BEFORE) == []
    # Without keepPrevious in the restored config its workload has the model's plain name.
    cfg, _, _ = stack(model=MODEL, max_nodes=11, revision=OLD_REVISION)
    assert kept_switches(_now(), cfg, BEFORE) == []


def test_without_yes_or_a_dsn_the_registry_is_left_to_the_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(DSN_ENV, raising=False)
    switches = [Switch("m", IMAGE, OLD_REVISION, UNTIL)]
    plan: Any = None  # not read without a DSN
    assert registry_switch(Namespace(yes=False), plan, switches, "production") is None
    assert registry_switch(Namespace(yes=True), plan, switches, "production") is None
    assert "the registry follows once each entry's smoke test passed" in capsys.readouterr().err
    assert registry_switch(Namespace(yes=True), plan, [], "production") is None
