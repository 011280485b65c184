"""vLLM's CPU build serving the tiny model with exactly what ``ops render`` produces for the live
stack (tests/live/Pulumi.live.yaml), behind the rendered route allowlist (HAProxy), checked from
the outside as Kubernetes, the smoke Job, the health reporter, Prometheus and a client without
the key would see it: each through the allowlist port it uses in the cluster.

The tests run in file order against one server (conftest ``cold``); the last one restarts it
warm on the same volume. ``make test-live`` runs them; ``make test`` leaves them out (marker).
"""

from __future__ import annotations

import http.client
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
from tests.support.allowlist import BYPASSES
from tests.unit.manifests.vllm.test_observability import (
    PROMETHEUS_SERIES,
    expressions,
    metric_names,
)

pytestmark = pytest.mark.live

SYSTEM_PATH = IMAGE_PATH  # the curl image's tools (sh, curl) are the system's here


def run_as(container: Container, run: Run, argv: list[str], env: dict[str, str]) -> str:
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
        assert probe["httpGet"]["port"] == cold.rendered.allowlist(cold.model).port("health")
        status = http_status(
            cold.url("health", probe["httpGet"]["path"]), timeout=probe["timeoutSeconds"]
        )
        assert probe_ok(status), (kind, status)
    assert cold.server is not None and cold.server.pgid is not None
    if cold.user is not None:  # every process of the server runs as the rendered user
        assert _group_uids(cold.server.pgid) == {cold.container.user[0]}


def run_smoke(run: Run, payload: str | None = None) -> str:
    smoke = run.rendered.smoke(run.model)
    tmp = run.own(run.root / "smoke-tmp")
    argv, env = local_env(smoke, {"tmp": tmp}, {"VLLM_API_KEY": run.key}, SYSTEM_PATH)
    assert int(env["SMOKE_PORT"]) == run.rendered.allowlist(run.model).port("http")
    env["SMOKE_TARGETS"] = run.ports["http"].host
    env["SMOKE_PORT"] = str(run.ports["http"].port)
    if payload is not None:
        env["SMOKE_PAYLOADS"] = payload
    return run_as(smoke, run, argv, env)


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
    health = cold.rendered.allowlist(cold.model).port("health")
    files["models"] = reporter_models("\n".join(ours), cold.ports["health"], health)
    for name, text in files.items():
        (config / name).write_text(text, encoding="utf-8")
    volumes = {
        "config": cold.own(config),
        "results": cold.own(cold.root / "reporter-results"),
        "tmp": cold.own(cold.root / "reporter-tmp"),
    }
    argv, env = local_env(probe, volumes, {}, SYSTEM_PATH)
    out = run_as(probe, cold, argv, env)
    assert out.startswith("exit 0\n"), out
    results = (volumes["results"] / "results").read_text(encoding="utf-8")
    assert results == "tiny-chat healthy http_200\n", results


def _get(url: str) -> str:
    """The body of a GET without credentials (as Prometheus scrapes /metrics)."""
    return subprocess.run(
        ["curl", "--silent", "--fail", url], capture_output=True, text=True, check=True, timeout=30
    ).stdout


def _live_series(run: Run) -> set[str]:
    [endpoint] = run.rendered.one("ServiceMonitor", run.model)["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("metrics", "/metrics"), endpoint
    text = _get(run.url(endpoint["port"], endpoint["path"]))
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


def test_behind_the_allowlist_vllms_api_key_guards_exactly_the_contracts_routes(cold: Run) -> None:
    """vLLM itself, as the allowlist reaches it on the loopback: why the allowlist is needed."""
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


def _allowed(port: str, method: str, path: str) -> bool:
    """The allowlist's table (assets/allowlist.cfg): what reaches vLLM through which port."""
    if port == "http":
        runtime_lora = path in ("/v1/load_lora_adapter", "/v1/unload_lora_adapter")
        return path.startswith("/v1/") and not runtime_lora
    return (method, path) == ("GET", f"/{port}")


def _raw(run: Run, port: str, method: str, target: str, key: bool = False) -> int:
    """One request with ``target`` sent exactly as written (no client-side normalising)."""
    address = run.ports[port]
    conn = http.client.HTTPConnection(address.host, address.port, timeout=30)
    headers = {"Authorization": f"Bearer {run.key}"} if key else {}
    try:
        conn.request(method, target, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


def test_every_route_is_reachable_or_refused_through_the_allowlist_as_its_table_says(
    cold: Run,
) -> None:
    data = json.loads(
        (DATA_DIR / cold.container.spec["image"].rsplit(":", 1)[1] / "routes.json").read_text()
    )
    table: list[str] = []
    for row in data["routes"]:  # every route, also those only a switch registers
        method = "GET" if row["method"] == "WEBSOCKET" else row["method"]
        path = re.sub(r"\{[^}]+\}", "x", row["path"])
        for port in ("http", "metrics", "health"):
            status = _raw(cold, port, method, path)
            if not _allowed(port, method, row["path"]):
                assert status == 403, (port, method, path, status)
            elif port == "http":  # reaches vLLM, which asks for the key
                assert status == 401, (port, method, path, status)
            else:
                assert status == 200, (port, method, path, status)
            table.append(f"{port} {method} {row['path']} {status}")
    RESULTS["allowlist_route_checks"] = len(table)
    (cold.root / "allowlist-table.txt").write_text("\n".join(table) + "\n", encoding="utf-8")
    assert _raw(cold, "http", "GET", "/v1/models", key=True) == 200
    for lora in ("/v1/load_lora_adapter", "/v1/unload_lora_adapter"):
        assert _raw(cold, "http", "POST", lora, key=True) == 403


def test_no_spelling_of_a_refused_route_gets_through(cold: Run) -> None:
    for target in BYPASSES:
        for method in ("GET", "POST"):
            assert _raw(cold, "http", method, target, key=True) in (400, 403), (method, target)
    for target in ("/metrics/", "//metrics", "/metrics/../version", "/Metrics", "/metrics%2f"):
        assert _raw(cold, "metrics", "GET", target) in (400, 403), target
    assert _raw(cold, "metrics", "POST", "/metrics") == 403
    assert _raw(cold, "health", "GET", "/health?x") == 200  # a query is not part of the path
    assert _raw(cold, "health", "GET", "/health/../load") in (400, 403)


def _listening(port: int) -> set[str]:
    """The local addresses (hex, as /proc/net/tcp* writes them) listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.rpartition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_vllm_listens_on_the_loopback_only(cold: Run) -> None:
    """As rendered (``--host 127.0.0.1``): in the pod no other pod can reach vLLM itself."""
    argv = cold.container.argv
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert "ports" not in cold.container.spec
    assert _listening(cold.address.port) == {"0100007F"}  # 127.0.0.1 and nothing else


def _compiled(volume: Path) -> dict[Path, float]:
    return {p: p.stat().st_mtime for p in (volume / "cache").rglob("*.so")}


def test_a_warm_restart_reuses_the_compile_caches_on_the_volume(cold: Run) -> None:
    before = _compiled(cold.volumes["weights"])
    assert before, "the cold start compiled nothing onto the volume"
    assert cold.server is not None
    cold.server.stop()
    warm = cold.start_server(2)
    elapsed = warm.wait_ready(cold.url("health", "/health"), cold.startup_budget())
    RESULTS["warm_start_seconds"] = round(elapsed, 1)
    after = _compiled(cold.volumes["weights"])
    assert after == before, "the warm start compiled kernels again"
