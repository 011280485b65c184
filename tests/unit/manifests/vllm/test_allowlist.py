"""components/manifests/vllm/allowlist.py and assets/allowlist.cfg: the route allowlist.

The rendered configuration runs in Debian's haproxy (the release the image tag names) in front
of a stand-in upstream that records what reaches it; every route of the contract is sent to
each port. The live tier (tests/live) does the same in front of the real vLLM. Without
haproxy on PATH the proxy tests are skipped here (``apt-get install haproxy``); ``make
test-live`` requires it.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from components.manifests.vllm import allowlist
from components.manifests.vllm.args import server_args
from components.manifests.vllm.workload import server_pod_template
from components.vllm_contract import DATA_DIR
from tests.support.allowlist import BYPASSES
from tests.unit.manifests.vllm.support import stack

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
needs_haproxy = pytest.mark.skipif(
    not Path(HAPROXY).exists(), reason="haproxy is not installed (apt-get install haproxy)"
)
RUNTIME_LORA = ("/v1/load_lora_adapter", "/v1/unload_lora_adapter")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pod() -> dict[str, object]:
    cfg, m, _ = stack()
    return server_pod_template(cfg, m)["spec"]  # type: ignore[no-any-return]


def test_the_sidecar_is_native_restricted_small_and_pinned() -> None:
    cfg, m, _ = stack()
    pod = server_pod_template(cfg, m)["spec"]
    init = pod["initContainers"]
    names = [c["name"] for c in init]
    assert names[-1] == "allowlist"  # after fetch-weights, before vLLM
    sidecar = init[-1]
    assert sidecar["restartPolicy"] == "Always"
    ctx = sidecar["securityContext"]
    assert (
        ctx["readOnlyRootFilesystem"]
        and ctx["runAsNonRoot"]
        and ctx["capabilities"] == {"drop": ["ALL"]}
    )
    assert sidecar["resources"]["requests"] == {"cpu": "100m", "memory": "64Mi"}
    assert sidecar["resources"]["limits"] == {"memory": "64Mi"}
    assert re.fullmatch(r"haproxy:\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?", sidecar["image"])
    [mount] = sidecar["volumeMounts"]
    assert mount["readOnly"] is True
    config = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert config == [{"name": "allowlist", "configMap": {"name": f"{m.name}-allowlist"}}]


def test_vllm_listens_on_the_loopback_where_the_allowlist_proxies_to() -> None:
    _, m, _ = stack()
    args = server_args(m)
    upstream = {e["name"]: e["value"] for e in allowlist.sidecar(m)["env"]}["VLLM_UPSTREAM"]
    assert f"{args[args.index('--host') + 1]}:{args[args.index('--port') + 1]}" == upstream
    assert upstream.startswith("127.0.0.1:")
    vllm = next(c for c in _pod()["containers"] if c["name"] == "vllm")  # type: ignore[attr-defined]
    assert "ports" not in vllm
    # probes go through the allowlist's health port (a number: the port is the sidecar's)
    health = next(p for p in allowlist.sidecar(m)["ports"] if p["name"] == "health")
    for kind in ("startup", "readiness", "liveness"):
        assert vllm[f"{kind}Probe"]["httpGet"] == {
            "path": "/health",
            "port": health["containerPort"],
        }


def test_a_changed_configuration_rolls_the_pods() -> None:
    cfg, m, _ = stack()
    annotations = server_pod_template(cfg, m)["metadata"]["annotations"]
    assert annotations[allowlist.CHECKSUM_ANNOTATION] == allowlist.config_checksum()
    assert allowlist.config_map(cfg, m)["data"] == {"allowlist.cfg": allowlist.config_text()}


class _Upstream(BaseHTTPRequestHandler):
    """Stands in for vLLM: 200 and the path it was asked for, recorded."""

    seen: list[str] = []

    def _answer(self) -> None:
        self.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_POST = do_DELETE = _answer  # noqa: N815 (the handler's names)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    ports = {name: free_port() for name in ("http", "metrics", "health")}
    cfg, m, _ = stack()
    config = tmp_path_factory.mktemp("allowlist") / "allowlist.cfg"
    config.write_text(allowlist.config_map(cfg, m)["data"]["allowlist.cfg"], encoding="utf-8")
    env = {
        "API_BIND": f"127.0.0.1:{ports['http']}",
        "METRICS_BIND": f"127.0.0.1:{ports['metrics']}",
        "HEALTH_BIND": f"127.0.0.1:{ports['health']}",
        "VLLM_UPSTREAM": f"127.0.0.1:{upstream.server_address[1]}",
    }
    check = subprocess.run(
        [HAPROXY, "-c", "-f", str(config)], env=env, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    process = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], env=env)
    try:
        for _ in range(50):
            try:
                _send(ports["health"], "GET", "/")
                break
            except OSError:
                threading.Event().wait(0.1)
        yield ports
    finally:
        process.terminate()
        process.wait(timeout=10)
        upstream.shutdown()


def _send(port: int, method: str, target: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, target)
        return conn.getresponse().status
    finally:
        conn.close()


def _expected(port: str, method: str, path: str) -> bool:
    if port == "http":
        return path.startswith("/v1/") and path not in RUNTIME_LORA
    return (method, path) == ("GET", f"/{port}")


@needs_haproxy
@pytest.mark.parametrize("version", sorted(p.name for p in DATA_DIR.glob("v*")))
def test_every_contract_route_passes_or_is_refused_on_each_port(
    proxy: dict[str, int], version: str
) -> None:
    routes = json.loads((DATA_DIR / version / "routes.json").read_text(encoding="utf-8"))["routes"]
    assert any(r["path"] == "/invocations" for r in routes)
    for row in routes:
        method = "GET" if row["method"] == "WEBSOCKET" else row["method"]
        path = re.sub(r"\{[^}]+\}", "x", row["path"])
        for port, number in proxy.items():
            _Upstream.seen.clear()
            status = _send(number, method, path)
            if _expected(port, method, row["path"]):
                assert (status, _Upstream.seen) == (200, [path]), (port, method, path)
            else:
                assert (status, _Upstream.seen) == (403, []), (port, method, path)


@needs_haproxy
@pytest.mark.parametrize("target", BYPASSES)
def test_no_other_spelling_reaches_vllm(proxy: dict[str, int], target: str) -> None:
    _Upstream.seen.clear()
    assert _send(proxy["http"], "POST", target) in (400, 403)
    assert _Upstream.seen == []


@needs_haproxy
def test_a_query_string_is_not_part_of_the_path(proxy: dict[str, int]) -> None:
    assert _send(proxy["http"], "GET", "/v1/models?x=/tokenize") == 200
    assert _send(proxy["health"], "HEAD", "/health") == 200
    assert _send(proxy["metrics"], "POST", "/metrics") == 403
    assert _send(proxy["http"], "PUT", "/v1/models") == 403
