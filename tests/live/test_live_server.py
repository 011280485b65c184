"""vLLM's CPU build serving the tiny model with exactly what ``ops render`` produces for the live
stack (tests/live/Pulumi.live.yaml), checked from the outside as Kubernetes, the smoke Job,
the health reporter, Prometheus and a client without the key would see it.

The tests run in file order against one server (conftest ``cold``); the last one restarts it
warm on the same volume. ``make test-live`` runs them; ``make test`` leaves them out (marker).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.vllm_contract import DATA_DIR
from tests.live.conftest import IMAGE_PATH, RESULTS, Run
from tests.live.rendered import Container, local_env, reporter_models
from tests.live.server import http_status, kubelet_seconds, probe_ok, startup_budget_seconds
from tests.unit.manifests.vllm.test_observability import (
    PROMETHEUS_SERIES,
    expressions,
    metric_names,
)

pytestmark = pytest.mark.live

SYSTEM_PATH = IMAGE_PATH  # the curl image's tools (sh, curl) are the system's here


def _run_as(container: Container, run: Run, argv: list[str], env: dict[str, str]) -> str:
    """Run a rendered container's command here as its user; its output (stdout+stderr)."""
    kwargs: dict[str, Any] = {}
    if run.user is not None:
        uid, gid = container.user
        kwargs = {"user": uid, "group": gid, "extra_groups": []}
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=120, check=False, **kwargs
    )
    return f"exit {done.returncode}\n{done.stdout}{done.stderr}"


def _group_uids(pgid: int) -> set[int]:
    uids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, IndexError):
            continue
        uids.add(int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1)))  # type: ignore[union-attr]
    return uids


def test_ready_within_its_startup_budget_through_the_rendered_probes(cold: Run) -> None:
    startup = cold.container.probe("startup")
    elapsed = float(RESULTS["cold_start_seconds"])  # type: ignore[arg-type]
    assert kubelet_seconds(elapsed, startup) <= startup_budget_seconds(startup)
    for kind in ("startup", "readiness", "liveness"):
        probe = cold.container.probe(kind)
        assert probe["httpGet"]["port"] == "http"
        status = http_status(
            cold.address.base + probe["httpGet"]["path"], timeout=probe["timeoutSeconds"]
        )
        assert probe_ok(status), (kind, status)
    assert cold.server is not None and cold.server.pgid is not None
    if cold.user is not None:  # every process of the server runs as the rendered user
        assert _group_uids(cold.server.pgid) == {cold.container.user[0]}


def run_smoke(run: Run, payload: str | None = None) -> str:
    smoke = run.rendered.smoke(run.model)
    tmp = run.own(run.root / "smoke-tmp")
    argv, env = local_env(smoke, {"tmp": tmp}, {"VLLM_API_KEY": run.key}, SYSTEM_PATH)
    assert int(env["SMOKE_PORT"]) == run.container.port("http")
    env["SMOKE_TARGETS"] = run.address.host
    env["SMOKE_PORT"] = str(run.address.port)
    if payload is not None:
        env["SMOKE_PAYLOADS"] = payload
    return _run_as(smoke, run, argv, env)


def test_the_rendered_smoke_script_passes(cold: Run) -> None:
    out = run_smoke(cold)
    assert out.startswith("exit 0\n") and "smoke test passed" in out, out
    assert "for model tiny-chat " in out, out
    latency = re.search(r"HTTP 200 in ([0-9.]+)s", out)
    assert latency is not None, out
    RESULTS["smoke_latency_seconds"] = float(latency.group(1))


def test_the_smoke_script_fails_for_a_wrong_model_name(cold: Run) -> None:
    payload = json.loads(cold.rendered.smoke().env_value("SMOKE_PAYLOADS").splitlines()[0])
    payload["model"] = "not-" + payload["model"]
    out = run_smoke(cold, json.dumps(payload))
    assert out.startswith("exit 1\n") and "FAILED: HTTP 404" in out, out


def test_the_health_reporters_probe_marks_it_healthy(cold: Run) -> None:
    probe = cold.rendered.reporter_probe()
    files = cold.rendered.reporter_files()
    config = cold.root / "reporter-config"
    config.mkdir(exist_ok=True)
    ours = [line for line in files["models"].splitlines() if line.split()[0] == cold.model]
    files["models"] = reporter_models("\n".join(ours), cold.address, cold.container.port("http"))
    for name, text in files.items():
        (config / name).write_text(text, encoding="utf-8")
    volumes = {
        "config": cold.own(config),
        "results": cold.own(cold.root / "reporter-results"),
        "tmp": cold.own(cold.root / "reporter-tmp"),
    }
    argv, env = local_env(probe, volumes, {}, SYSTEM_PATH)
    out = _run_as(probe, cold, argv, env)
    assert out.startswith("exit 0\n"), out
    results = (volumes["results"] / "results").read_text(encoding="utf-8")
    assert results == "tiny-chat healthy http_200\n", results


def _get(url: str) -> str:
    """The body of a GET without credentials (as Prometheus scrapes /metrics)."""
    return subprocess.run(
        ["curl", "--silent", "--fail", url], capture_output=True, text=True, check=True, timeout=30
    ).stdout


def _live_series(run: Run) -> set[str]:
    text = _get(f"{run.address.base}/metrics")
    return {
        re.split(r"[{ ]", line, maxsplit=1)[0]
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_every_metric_the_rules_keda_and_dashboard_query_is_live(cold: Run) -> None:
    queried: set[str] = set()
    places = 0
    for _, expr in expressions(cold.rendered.objects):
        queried |= metric_names(expr)
        places += 1
    assert places >= 5 and "vllm:num_requests_waiting" in queried  # rules, KEDA, dashboard
    missing = queried - PROMETHEUS_SERIES - _live_series(cold)
    assert not missing, missing


def _contract_routes(run: Run) -> list[dict[str, Any]]:
    version = run.rendered.server().spec["image"].rsplit(":", 1)[1]
    data = json.loads((DATA_DIR / version / "routes.json").read_text(encoding="utf-8"))
    return [r for r in data["routes"] if r["registered_only_with"] is None]


def test_the_routes_the_api_key_guards_are_exactly_the_contracts(cold: Run) -> None:
    base = cold.address.base
    wrong = {"Authorization": "Bearer not-the-key"}
    for row in _contract_routes(cold):
        method = "GET" if row["method"] == "WEBSOCKET" else row["method"]
        url = base + re.sub(r"\{[^}]+\}", "x", row["path"])
        status = http_status(url, timeout=30, method=method)
        assert (status == 401) == row["guarded_by_api_key"], (row["path"], method, status)
        if row["guarded_by_api_key"]:
            assert http_status(url, timeout=30, headers=wrong, method=method) == 401
    key = {"Authorization": f"Bearer {cold.key}"}
    assert http_status(f"{base}/v1/models", timeout=30, headers=key) == 200
    openapi = json.loads(_get(f"{base}/openapi.json"))
    known = {r["path"] for r in _contract_routes(cold)}
    assert set(openapi["paths"]) <= known, set(openapi["paths"]) - known


def _compiled(volume: Path) -> dict[Path, float]:
    return {p: p.stat().st_mtime for p in (volume / "cache").rglob("*.so")}


def test_a_warm_restart_reuses_the_compile_caches_on_the_volume(cold: Run) -> None:
    before = _compiled(cold.volumes["weights"])
    assert before, "the cold start compiled nothing onto the volume"
    assert cold.server is not None
    cold.server.stop()
    warm = cold.start_server(2)
    elapsed = warm.wait_ready(f"{cold.address.base}/health", cold.startup_budget())
    RESULTS["warm_start_seconds"] = round(elapsed, 1)
    after = _compiled(cold.volumes["weights"])
    assert after == before, "the warm start compiled kernels again"
