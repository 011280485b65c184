"""Fixtures of the live tier: the rendered stack, the run's directories, and one vLLM server
started cold from the rendered StatefulSet (restarted warm by the last test).

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
    render,
    server_argv,
)
from tests.live.server import Server, free_port, startup_budget_seconds, stop_leftovers

RESULTS: dict[str, object] = {}
# The rest of the image's PATH after its venv: Docker's default (vLLM runs lscpu from it).
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class Run:
    """One live run: where things are, the address and key, the server and its measurements."""

    root: Path
    env: LiveEnvironment
    rendered: Rendered
    address: Address
    key: str
    user: tuple[int, int] | None
    volumes: dict[str, Path] = field(default_factory=dict)
    server: Server | None = None
    model: str = "tiny-chat"  # the live stack's model this run serves

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
            self.container, self.volumes, {"VLLM_API_KEY": self.key}, f"{self.env.bin}:{IMAGE_PATH}"
        )
        argv = server_argv(argv, self.address, self.container.port("http"))
        grace = self.rendered.one("StatefulSet", self.model)["spec"]["template"]["spec"].get(
            "terminationGracePeriodSeconds", 30
        )
        log = self.root / f"server-{generation}.log"
        server = Server(argv, env, log, self.user, int(grace), record=self.record)
        server.start()
        self.server = server
        return server

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


LIVE_MODELS = ("tiny-chat", "tiny-base")


def record(env: LiveEnvironment, model: str) -> Path:
    """Where a model's running server's process group is noted (outside the run directory)."""
    return env.venv.parent / f"live-server-{model}.pgid"


def _user(rendered: Rendered) -> tuple[int, int] | None:
    """The rendered UID/GID when we may switch to it (root), else None: run as ourselves."""
    return rendered.server().user if os.geteuid() == 0 else None


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
    user = _user(rendered)
    run = Run(root, env, rendered, Address("127.0.0.1", free_port()), new_key(), user)
    run.place_weights()
    try:
        yield run
    finally:
        if run.server is not None:
            run.server.stop()
        (env.venv.parent / "live-results.json").write_text(
            json.dumps(RESULTS, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )


@pytest.fixture(scope="session")
def cold(live_run: Run) -> Run:
    """The server started cold (an empty compile cache on the volume), ready."""
    server = live_run.start_server(1)
    elapsed = server.wait_ready(f"{live_run.address.base}/health", live_run.startup_budget())
    RESULTS["cold_start_seconds"] = round(elapsed, 1)
    return live_run


@pytest.fixture(scope="session")
def lora(live_run: Run) -> Iterator[Run]:
    """The model that serves a LoRA adapter (tiny-base), on its own volume and port, started
    once tiny-chat's server is stopped (two servers would share the two cores)."""
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
    run.place_weights()
    server = run.start_server(1)
    try:
        elapsed = server.wait_ready(f"{run.address.base}/health", run.startup_budget())
        RESULTS["lora_cold_start_seconds"] = round(elapsed, 1)
        yield run
    finally:
        server.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RESULTS:
        terminalreporter.section("live tier figures")
        for key, value in sorted(RESULTS.items()):
            terminalreporter.write_line(f"{key}: {value}")
