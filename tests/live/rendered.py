"""What ``python -m ops render`` writes for the live stack, and the few substitutions that let it
run on this machine instead of in a pod.

The live tier reads the rendered YAML, not the builders, so it checks what a user applies.
Only these differ from the rendered objects (docs/vllm-contract.md lists them too):

- address: vLLM listens on ``127.0.0.1:<free port>`` instead of ``--host 127.0.0.1 --port
  8001``, and the route allowlist (the rendered HAProxy sidecar and its ConfigMap, run by
  Debian's haproxy) binds a free port of 127.0.0.1 for each of its ports (API, metrics, health)
  and proxies to that vLLM; the probes, the smoke Job's targets and port and the health
  reporter's URLs follow (each checked to name the allowlist's port first);
- paths: every volume mount becomes a directory of the run (``/var/cache/vllm-platform`` ->
  ``<run>/weights``, ``/home/vllm`` -> ``<run>/home``, ...), in arguments and environment
  values alike, and the ``/tmp`` mount becomes ``TMPDIR``;
- key: ``VLLM_API_KEY`` (a Secret in the cluster) is a random key of the run; an optional
  Secret reference that has no Secret (``HF_TOKEN``) is left out, as the kubelet does;
- image: ``PATH`` starts with the venv's bin directory (the image's own environment);
- Object Storage (the streamed model): the ``weights-object-storage`` Secret's endpoint and key
  are the local S3 server's, and the staging script's Hub is ``objectstore.hub_shim``.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from tests.live.environment import LIVE_STACK
from tests.support.stackfiles import ROOT

__all__ = [
    "Address",
    "Container",
    "Rendered",
    "local_env",
    "render",
]

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Address:
    """Where the live server listens instead of the pod's ``0.0.0.0:8000``."""

    host: str
    port: int

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class Container:
    """One rendered container: what runs, its environment, mounts, probes and user."""

    spec: Manifest
    pod_security: Manifest = field(default_factory=dict)

    @property
    def argv(self) -> list[str]:
        return [*self.spec.get("command", []), *self.spec.get("args", [])]

    @property
    def mounts(self) -> dict[str, str]:
        """mountPath -> volume name."""
        return {m["mountPath"]: m["name"] for m in self.spec.get("volumeMounts", [])}

    @property
    def user(self) -> tuple[int, int]:
        """(uid, gid) the container runs as: its securityContext, else the pod's."""
        ctx = {**self.pod_security, **self.spec.get("securityContext", {})}
        return int(ctx["runAsUser"]), int(ctx["runAsGroup"])

    def port(self, name: str) -> int:
        return int(next(p["containerPort"] for p in self.spec["ports"] if p["name"] == name))

    def probe(self, kind: str) -> Manifest:
        return dict(self.spec[f"{kind}Probe"])

    def lora_modules(self) -> dict[str, str]:
        """``--lora-modules``' adapter name -> path, as rendered (before localizing)."""
        args = list(self.spec["args"])
        if "--lora-modules" not in args:
            return {}
        start = args.index("--lora-modules") + 1
        out: dict[str, str] = {}
        for value in args[start:]:
            if value.startswith("--"):
                break
            name, _, path = value.partition("=")
            out[name] = path
        return out

    def env_value(self, name: str) -> str:
        return str(next(e["value"] for e in self.spec["env"] if e["name"] == name))


@dataclass(frozen=True)
class Rendered:
    """The rendered objects of the live stack, by kind and name."""

    objects: list[Manifest]

    def one(self, kind: str, name_prefix: str = "") -> Manifest:
        found = [
            o
            for o in self.objects
            if o["kind"] == kind and o["metadata"]["name"].startswith(name_prefix)
        ]
        assert len(found) == 1, f"{kind} {name_prefix!r}: {len(found)} rendered"
        return found[0]

    def server(self, model: str = "tiny-chat") -> Container:
        pod = self.one("StatefulSet", model)["spec"]["template"]["spec"]
        return Container(pod["containers"][0], pod.get("securityContext", {}))

    def smoke(self, model: str = "tiny-chat") -> Container:
        pod = self.one("Job", f"{model}-smoke-")["spec"]["template"]["spec"]
        return Container(pod["containers"][0], pod.get("securityContext", {}))

    def stage(self, model: str) -> Container:
        """A streamed model's staging Job (``<model>-stage-<rev12>``)."""
        pod = self.one("Job", f"{model}-stage-")["spec"]["template"]["spec"]
        return Container(pod["containers"][0], pod.get("securityContext", {}))

    def reporter_probe(self) -> Container:
        spec = self.one("CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        probe = next(c for c in spec["initContainers"] if c["name"] == "probe")
        return Container(probe, spec.get("securityContext", {}))

    def reporter_files(self) -> dict[str, str]:
        return dict(self.one("ConfigMap", "health-reporter")["data"])

    def allowlist(self, model: str = "tiny-chat") -> Container:
        """The route allowlist: the server pod's native sidecar."""
        pod = self.one("StatefulSet", model)["spec"]["template"]["spec"]
        proxy = next(c for c in pod["initContainers"] if c.get("restartPolicy") == "Always")
        return Container(proxy, pod.get("securityContext", {}))

    def allowlist_files(self, model: str = "tiny-chat") -> dict[str, str]:
        volumes = self.one("StatefulSet", model)["spec"]["template"]["spec"]["volumes"]
        [name] = [v["configMap"]["name"] for v in volumes if "configMap" in v]
        return dict(self.one("ConfigMap", name)["data"])


def render(out: Path, stack: Path = LIVE_STACK) -> Rendered:
    """``python -m ops render --file <stack> --out <out>``, read back."""
    subprocess.run(
        [sys.executable, "-m", "ops", "render", "--file", str(stack), "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    docs = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(out.glob("*.yaml"))]
    return Rendered(docs)


def new_key() -> str:
    return "live-" + secrets.token_urlsafe(24)


def _localize(value: str, paths: Mapping[str, Path]) -> str:
    """A string naming a path under a mount, with the mount's directory of the run (also the
    path of a ``name=path`` value, as ``--lora-modules`` takes them)."""
    name, sep, path = value.partition("=")
    if sep and path.startswith("/") and "/" not in name:
        return f"{name}={_localize(path, paths)}"
    for mount in sorted(paths, key=len, reverse=True):
        if value == mount or value.startswith(mount.rstrip("/") + "/"):
            return str(paths[mount]) + value[len(mount) :]
    return value


def local_env(
    container: Container, volumes: Mapping[str, Path], secrets_: Mapping[str, str], path: str
) -> tuple[list[str], dict[str, str]]:
    """The container's argv and environment on this machine: mount paths replaced by the run's
    directories (``volumes``: volume name -> directory), Secret references by ``secrets_``
    (name of the variable -> value; optional ones without a value are left out)."""
    paths = {mount: volumes[name] for mount, name in container.mounts.items()}
    env: dict[str, str] = {"PATH": path}
    for item in container.spec.get("env", []):
        if "value" in item:
            env[item["name"]] = _localize(str(item["value"]), paths)
            continue
        ref = item["valueFrom"]["secretKeyRef"]
        if item["name"] in secrets_:
            env[item["name"]] = secrets_[item["name"]]
        elif not ref.get("optional", False):
            raise AssertionError(f"no value for the required Secret reference {item['name']}")
    if "/tmp" in paths:
        env["TMPDIR"] = str(paths["/tmp"])
    return [_localize(a, paths) for a in container.argv], env


def server_argv(argv: list[str], address: Address, upstream: str) -> list[str]:
    """The rendered ``vllm serve`` command with only ``--host`` and ``--port`` replaced; they
    must be what the allowlist proxies to (``upstream``, its ``VLLM_UPSTREAM``)."""
    out = list(argv)
    rendered = f"{out[out.index('--host') + 1]}:{out[out.index('--port') + 1]}"
    assert rendered == upstream, f"vLLM listens on {rendered}, the allowlist proxies to {upstream}"
    for flag, value in (("--host", address.host), ("--port", str(address.port))):
        out[out.index(flag) + 1] = value
    return out


def proxy_env(
    container: Container, env: dict[str, str], ports: Mapping[str, Address], vllm: Address
) -> dict[str, str]:
    """The allowlist's environment with each ``*_BIND`` (``:<containerPort>``) replaced by the
    live address of that port (``ports``: port name -> address) and ``VLLM_UPSTREAM`` by vLLM's."""
    by_number = {p["containerPort"]: p["name"] for p in container.spec["ports"]}
    out = dict(env)
    for name, value in env.items():
        if name.endswith("_BIND"):
            host, _, port = value.rpartition(":")
            assert host == "", f"{name}={value}: the pod's ports bind every address"
            live = ports[by_number[int(port)]]
            out[name] = f"{live.host}:{live.port}"
    out["VLLM_UPSTREAM"] = f"{vllm.host}:{vllm.port}"
    return out


def reporter_models(text: str, address: Address, container_port: int) -> str:
    """The reporter's models file with each URL's host and port replaced."""
    lines = []
    for line in text.splitlines():
        name, url = line.split()
        parts = urlsplit(url)
        assert parts.port == container_port, f"{url} is not the server's port"
        lines.append(
            f"{name} {urlunsplit(parts._replace(netloc=f'{address.host}:{address.port}'))}"
        )
    return "\n".join(lines) + "\n"
