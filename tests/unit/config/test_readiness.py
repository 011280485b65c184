"""``models[].rollout.restart`` (#27): allAtOnce is accepted only where it does what it says (a
StatefulSet's maxUnavailable from Kubernetes 1.37, a Deployment's Recreate everywhere), with
production's downtime accepted explicitly, and never beside keepPrevious."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import ConfigError, StackConfig, load_stack_config
from tests.support.stackfiles import raw_stack

ALL_AT_ONCE = {"restart": "allAtOnce"}


def _with(stack: str, k8s: str | None = None, index: int = 0, **keys: Any) -> dict[str, Any]:
    raw = raw_stack(stack)
    raw["models"][index].update(keys)
    if k8s is not None:
        raw["cluster"]["k8sVersion"] = k8s
    return raw


def _issue(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        load_stack_config(raw)
    (issue,) = info.value.issues
    return str(issue)


def _loaded(raw: dict[str, Any]) -> StackConfig:
    return load_stack_config(raw).config


def test_one_at_a_time_is_the_default_of_every_committed_stack() -> None:
    for name in ("development", "staging", "production"):
        cfg = _loaded(raw_stack(name))
        assert {m.rollout.restart for m in cfg.models} == {"oneAtATime"}


@pytest.mark.parametrize("k8s", ["1.37", "1.38"])
def test_a_statefulset_restarts_all_at_once_from_kubernetes_1_37(k8s: str) -> None:
    raw = _with("production", k8s, rollout=ALL_AT_ONCE, allowDowntime=True)
    model = _loaded(raw).models[0]
    assert model.uses_statefulset and model.rollout.all_at_once


@pytest.mark.parametrize("k8s", ["1.33", "1.34", "1.35", "1.36"])
def test_before_1_37_a_statefulset_is_refused_since_the_api_server_drops_the_field(
    k8s: str,
) -> None:
    # MaxUnavailableStatefulSet: off by default through 1.36 (1.35.0-1.35.3 had it on, but a
    # minor version names no patch); docs/provider-semantics.md, "StatefulSet maxUnavailable".
    issue = _issue(_with("production", k8s, rollout=ALL_AT_ONCE, allowDowntime=True))
    assert issue.startswith("models[0].rollout.restart: a StatefulSet (weightCache.mode")
    assert "drops the field silently" in issue and "MaxUnavailableStatefulSet" in issue
    assert f"cluster.k8sVersion is {k8s}: set 1.37 or later" in issue


@pytest.mark.parametrize("mode", ["shared", "none"])
def test_a_deployment_restarts_all_at_once_on_any_version(mode: str) -> None:
    cache: dict[str, Any] = {"mode": mode}
    if mode == "shared":
        cache["storageClass"] = "nfs-rwx"
    raw = _with("staging", rollout=ALL_AT_ONCE, weightCache=cache)
    model = _loaded(raw).models[0]
    assert not model.uses_statefulset and model.rollout.all_at_once


def test_an_attached_cluster_is_judged_by_its_stated_version() -> None:
    # staging attaches to development's cluster; k8sVersion says which version it runs.
    issue = _issue(_with("staging", rollout=ALL_AT_ONCE))
    assert "cluster.k8sVersion is 1.33" in issue
    assert _loaded(_with("staging", "1.37", rollout=ALL_AT_ONCE)).models[0].rollout.all_at_once


def test_production_needs_allow_downtime_to_accept_it() -> None:
    issue = _issue(_with("production", "1.37", rollout=ALL_AT_ONCE))
    assert issue == (
        "models[0].rollout.restart: allAtOnce takes every replica down during each rollout "
        "and rollback (downtime); set allowDowntime: true to accept it in production"
    )


def test_it_is_refused_beside_keep_previous() -> None:
    rollout = {**ALL_AT_ONCE, "keepPrevious": 30}
    issue = _issue(_with("staging", "1.37", rollout=rollout))
    assert issue.startswith("models[0].rollout.restart: allAtOnce with keepPrevious: ")
    assert "set oneAtATime, or keepPrevious 0" in issue


def test_an_unknown_restart_is_refused_at_its_key() -> None:
    issue = _issue(_with("staging", "1.37", rollout={"restart": "allAtonce"}))
    assert issue.startswith("models[0].rollout.restart: ")
    assert "'oneAtATime' or 'allAtOnce'" in issue


def _kept_until(until: str) -> dict[str, Any]:
    raw = raw_stack("production")
    raw["cluster"]["gpuPool"]["autoscaler"]["max"] = 11  # room for the kept replicas
    previous = {"image": "vllm/vllm-openai:v0.32.0", "revision": "5" * 40, "until": until}
    raw["models"][1]["rollout"] = {"keepPrevious": 30, "previous": previous}
    return raw


@pytest.mark.parametrize(
    "until",
    ["2026-12-06T12:30:00Z", "2026-12-06T18:00:00.5+05:30", "2026-12-06 12:30:00-00:00"],
)
def test_the_windows_end_is_an_rfc_3339_time(until: str) -> None:
    assert _loaded(_kept_until(until)).models[1].rollout.previous is not None


@pytest.mark.parametrize(
    "until",
    [
        "2026-W49-7T12:30:00Z",  # an ISO 8601 week date: 2026-12-06, which no reviewer reads
        "20261206T123000Z",  # ISO 8601's basic format
        "2026-340T12:30:00Z",  # an ordinal date
        "2026-12-06T12:30Z",  # no seconds
        "2026-12-06T12:30:00+00:00:30",  # an offset in seconds
        "2026-12-06T12:30:00+0530",  # an offset without its colon
        "2026-12-06T12:30:00",  # no offset
        "2026-13-06T12:30:00Z",  # no such month
    ],
)
def test_another_iso_8601_spelling_of_the_windows_end_is_refused(until: str) -> None:
    issue = _issue(_kept_until(until))
    assert issue.startswith("models[1].rollout.previous.until: an RFC 3339 time"), issue
