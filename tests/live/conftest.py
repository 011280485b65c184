"""Fixtures of the live tier: the rendered stack, the run's directories, the route allowlist
(the rendered HAProxy sidecar, run by Debian's haproxy) and behind it one vLLM server started
cold from the rendered StatefulSet (restarted warm by the last test).

The run lives in ``<cache>/live-run`` (the cache root of tools/vllm_env.py, which the rendered
non-root user can reach); the previous run's directory is removed first and its logs stay for
reading after a failure. Measured figures go to ``<cache>/live-results.json`` and the terminal
summary.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from components.manifests.vllm.args import CACHE_MOUNT
from tests.live.environment import LiveEnvironment, live_environment, live_model_config, place_model
from tests.live.rendered import (
    Address,
    Container,
    Rendered,
    local_env,
    new_key,
    proxy_env,
    render,
    server_argv,
)
from tests.live.server import Server, free_port, startup_budget_seconds, stop_leftovers

RESULTS: dict[str, object] = {}
# The rest of the image's PATH after its venv: Docker's default (vLLM runs lscpu from it).
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PROXY_PORTS = ("http", "metrics", "health")


@dataclass
class Run:
    """One live run: where things are, the address and key, the server and its measurements."""

    root: Path
    env: LiveEnvironment
    rendered: Rendered
    address: Address  # vLLM's own (the pod's loopback)
    key: str
    user: tuple[int, int] | None
    volumes: dict[str, Path] = field(default_factory=dict)
    server: Server | None = None
    model: str = "tiny-chat"  # the live stack's model this run serves
    proxy: Server | None = None
    ports: dict[str, Address] = field(default_factory=dict)  # the allowlist's, by port name
    secrets: dict[str, str] = field(default_factory=dict)  # other Secret references' values

    def url(self, port: str, path: str) -> str:
        """``path`` through the allowlist's port ``port`` (http, metrics, health)."""
        return self.ports[port].base + path

    @property
    def container(self) -> Container:
        return self.rendered.server(self.model)

    def fresh_pod_dirs(self, generation: int) -> None:
        """New emptyDirs (home, tmp) for a pod; the weights volume is kept."""
        for name in ("home", "tmp"):
            self.volumes[name] = self.own(self.root / f"{name}-{generation}")

    def own(self, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            for p in [path, *path.rglob("*")]:
                os.chown(p, *self.user)
        return path

    def start_server(self, generation: int) -> Server:
        self.fresh_pod_dirs(generation)
        argv, env = local_env(
            self.container,
            self.volumes,
            {"VLLM_API_KEY": self.key, **self.secrets},
            f"{self.env.bin}:{IMAGE_PATH}",
        )
        upstream = self.rendered.allowlist(self.model).env_value("VLLM_UPSTREAM")
        argv = server_argv(argv, self.address, upstream)
        grace = self.rendered.one("StatefulSet", self.model)["spec"]["template"]["spec"].get(
            "terminationGracePeriodSeconds", 30
        )
        log = self.root / f"server-{generation}.log"
        server = Server(argv, env, log, self.user, int(grace), record=self.record)
        server.start()
        self.server = server
        return server

    def start_proxy(self) -> Server:
        """The allowlist as the sidecar runs: its command, the ConfigMap's file at its mount,
        by Debian's haproxy of the release the sidecar's image names."""
        sidecar = self.rendered.allowlist(self.model)
        check_proxy_release(sidecar.spec["image"])
        config = self.root / "allowlist-config"
        config.mkdir()
        for name, text in self.rendered.allowlist_files(self.model).items():
            (config / name).write_text(text, encoding="utf-8")
        self.volumes["allowlist"] = self.own(config)
        argv, env = local_env(sidecar, self.volumes, {}, IMAGE_PATH)
        env = proxy_env(sidecar, env, self.ports, self.address)
        proxy = Server(argv, env, self.root / "allowlist.log", self.user, 5)
        proxy.start()
        self.proxy = proxy
        # Up once it refuses what it must (403); a bad configuration exits at once.
        proxy.wait_ready(self.url("health", "/"), 10, accept=lambda s: s == 403)
        return proxy

    @property
    def record(self) -> Path:
        """Where the running server's process group is noted (outside the run directory)."""
        return record(self.env, self.model)

    def place_weights(self) -> None:
        """The model where the fetch-weights init container leaves it on the weight volume:
        the Hugging Face cache, and each LoRA adapter at its rendered --lora-modules path."""
        model = live_model_config()
        self.volumes["weights"] = self.root / "weights"
        place_model(
            self.env.model,
            self.volumes["weights"] / "huggingface",
            str(model["hfModelId"]),
            str(model["revision"]),
        )
        for path in self.container.lora_modules().values():
            target = self.volumes["weights"] / Path(path).relative_to(CACHE_MOUNT)
            shutil.copytree(self.env.adapter, target)
        self.own(self.volumes["weights"])

    def startup_budget(self) -> int:
        return startup_budget_seconds(self.container.probe("startup"))


LIVE_MODELS = ("tiny-chat", "tiny-base", "tiny-stream")


def record(env: LiveEnvironment, model: str) -> Path:
    """Where a model's running server's process group is noted (outside the run directory)."""
    return env.venv.parent / f"live-server-{model}.pgid"


def check_proxy_release(image: str) -> None:
    """Debian's haproxy (``apt-get install haproxy``) is the upstream release of the image."""
    found = shutil.which("haproxy", path=IMAGE_PATH)
    if found is None:
        pytest.fail("the live tier runs the route allowlist with haproxy: apt-get install haproxy")
    version = subprocess.run([found, "-v"], capture_output=True, text=True, check=True).stdout
    release = image.split("@", maxsplit=1)[0].rsplit(":", 1)[1]
    assert version.startswith(f"HAProxy version {release}-"), (image, version.splitlines()[0])


def pod_user(rendered: Rendered, model: str = "tiny-chat") -> tuple[int, int] | None:
    """The rendered UID/GID when we may switch to it (root), else None: run as ourselves."""
    return rendered.server(model).user if os.geteuid() == 0 else None


@pytest.fixture(scope="session")
def live_lock() -> Iterator[None]:
    """One live run at a time per cache: a second run (another clone's CI, a second terminal)
    waits here, instead of removing the first run's directory and killing its server."""
    path = live_environment().venv.parent / "live.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def live_run(live_lock: None) -> Iterator[Run]:
    env = live_environment()
    for model in LIVE_MODELS:
        stop_leftovers(record(env, model), str(env.venv))
    root = env.venv.parent / "live-run"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    rendered = render(root / "rendered")
    user = pod_user(rendered)
    run = Run(root, env, rendered, Address("127.0.0.1", free_port()), new_key(), user)
    run.ports = {name: Address("127.0.0.1", free_port()) for name in PROXY_PORTS}
    run.place_weights()
    try:
        run.start_proxy()  # a native sidecar: up before vLLM starts
        yield run
    finally:
        if run.server is not None:
            run.server.stop()
        if run.proxy is not None:
            run.proxy.stop()
        (env.venv.parent / "live-results.json").write_text(
            json.dumps(RESULTS, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )


@pytest.fixture(scope="session")
def cold(live_run: Run) -> Run:
    """The server started cold (an empty compile cache on the volume), ready."""
    server = live_run.start_server(1)
    elapsed = server.wait_ready(live_run.url("health", "/health"), live_run.startup_budget())
    RESULTS["cold_start_seconds"] = round(elapsed, 1)
    return live_run


@pytest.fixture(scope="module")
def lora(live_run: Run) -> Iterator[Run]:
    """The model that serves a LoRA adapter (tiny-base), on its own volume and port, started
    once tiny-chat's server is stopped (two servers would share the two cores); stopped after
    its module."""
    if live_run.server is not None:
        live_run.server.stop()
        live_run.server = None
    root = live_run.root / "tiny-base"
    root.mkdir()
    run = Run(
        root,
        live_run.env,
        live_run.rendered,
        Address("127.0.0.1", free_port()),
        live_run.key,
        live_run.user,
        model="tiny-base",
    )
    run.ports = {name: Address("127.0.0.1", free_port()) for name in PROXY_PORTS}
    run.place_weights()
    try:
        run.start_proxy()
        server = run.start_server(1)
        elapsed = server.wait_ready(run.url("health", "/health"), run.startup_budget())
        RESULTS["lora_cold_start_seconds"] = round(elapsed, 1)
        yield run
    finally:
        for process in (run.server, run.proxy):
            if process is not None:
                process.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RESULTS:
        terminalreporter.section("live tier figures")
        for key, value in sorted(RESULTS.items()):
            terminalreporter.write_line(f"{key}: {value}")
