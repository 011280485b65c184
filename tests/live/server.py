"""Start and stop the live vLLM server as the rendered container would run, and probe it as the
kubelet would.

The server runs in a session of its own (one process group: the API server, the engine core,
the workers), as the rendered ``runAsUser``/``runAsGroup`` when the tests run as root, and dies
with the test process (``PR_SET_PDEATHSIG``). ``stop`` sends SIGTERM to the group, waits up to
the pod's ``terminationGracePeriodSeconds``, then SIGKILL, and checks nothing is left.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Server",
    "free_port",
    "http_status",
    "startup_budget_seconds",
    "stop_leftovers",
]

_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_status(
    url: str, timeout: float, headers: dict[str, str] | None = None, method: str = "GET"
) -> int | None:
    """The HTTP status of one request; ``None`` when nothing answered in time."""
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError):
        return None


def probe_ok(status: int | None) -> bool:
    """An httpGet probe succeeds on 200-399 (the kubelet's rule)."""
    return status is not None and 200 <= status < 400


def startup_budget_seconds(probe: dict[str, Any]) -> int:
    """How long the kubelet lets a container start: initial delay + period x threshold."""
    return int(probe.get("initialDelaySeconds", 0)) + int(probe["periodSeconds"]) * int(
        probe["failureThreshold"]
    )


def _group_members(pgid: int, marker: str) -> list[int]:
    """The processes of group ``pgid`` whose environment names ``marker`` (our venv, on PATH;
    the command line will not do: vLLM renames its processes ``VLLM::EngineCore``)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            group = int(stat.read_text().rsplit(")", 1)[1].split()[2])
            environ = (stat.parent / "environ").read_bytes().decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        if group == pgid and marker in environ:
            found.append(int(stat.parent.name))
    return found


def stop_leftovers(record: Path, marker: str) -> list[int]:
    """Kill what a run killed hard left behind: the engine core and workers outlive their API
    server when the test process gets SIGKILL (only the API server dies with it). ``record``
    holds that run's process group; only processes of it running ``marker`` are killed."""
    if not record.is_file():
        return []
    killed = _group_members(int(record.read_text()), marker)
    for pid in killed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    record.unlink()
    return killed


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Server:
    argv: list[str]
    env: dict[str, str]
    log: Path
    user: tuple[int, int] | None
    grace_seconds: int
    record: Path | None = None  # where the process group is noted for stop_leftovers
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    pgid: int | None = None
    history: list[str] = field(default_factory=list)

    def start(self) -> None:
        out = self.log.open("ab")
        kwargs: dict[str, Any] = {}
        if self.user is not None:
            kwargs = {"user": self.user[0], "group": self.user[1], "extra_groups": []}
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            # The kernel kills the server if the tests die without running their teardown
            # (SIGKILL); the test process starts no threads, so preexec_fn is safe here.
            preexec_fn=_die_with_parent,  # noqa: PLW1509
            cwd=self.env.get("HOME", "/"),
            **kwargs,
        )
        out.close()
        self.pgid = self.process.pid
        if self.record is not None:
            self.record.write_text(str(self.pgid), encoding="utf-8")
        self.history.append(f"started pid {self.process.pid}")

    def wait_ready(
        self,
        url: str,
        budget: float,
        poll: float = 0.5,
        accept: Callable[[int | None], bool] = probe_ok,
    ) -> float:
        """Seconds from start until ``url`` answers 200-399 (or what ``accept`` takes); an
        error when the process exits or the budget passes first."""
        assert self.process is not None
        while True:
            elapsed = time.monotonic() - self.started
            if accept(http_status(url, timeout=min(5.0, poll * 4))):
                return elapsed
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self.argv[0]} exited with {self.process.returncode} after {elapsed:.0f} s; "
                    f"last lines of {self.log}:\n{self.tail()}"
                )
            if elapsed > budget:
                raise AssertionError(f"not ready within {budget:.0f} s:\n{self.tail()}")
            time.sleep(poll)

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        """Any process of the server's group still exists."""
        if self.pgid is None:
            return False
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def stop(self) -> None:
        """SIGTERM to the whole group, SIGKILL after the grace period; reaps the leader."""
        if self.process is None or self.pgid is None:
            return
        _signal_group(self.pgid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        while self.alive() and time.monotonic() < deadline:
            self.process.poll()
            time.sleep(0.2)
        if self.alive():
            _signal_group(self.pgid, signal.SIGKILL)
            _wait(lambda: not self.alive(), 10)
        self.process.wait(timeout=10)
        self.history.append(f"stopped pid {self.process.pid} ({self.process.returncode})")
        assert not self.alive(), f"processes of group {self.pgid} survived SIGKILL"
        if self.record is not None:
            self.record.unlink(missing_ok=True)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _wait(done: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.1)


def kubelet_seconds(elapsed: float, probe: dict[str, Any]) -> int:
    """When the kubelet's startup probe, which runs every ``periodSeconds``, first sees a
    server that answers from ``elapsed`` seconds on."""
    period = int(probe["periodSeconds"])
    delay = int(probe.get("initialDelaySeconds", 0))
    return delay + period * max(0, math.ceil((elapsed - delay) / period))
