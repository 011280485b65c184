"""Run the real ``__main__.py`` under Pulumi's mock runtime and record what it registers.

``run_program("production")`` feeds the program that stack file's config (as the engine would:
every value a string, objects as JSON, secret keys marked secret), runs it with mocks that return
realistic provider outputs keyed on the resource type, and returns every registration with the
options the engine would see (parent, provider, protect, custom timeouts, dependencies).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import os
import runpy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi.runtime
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tests.support.stackfiles import ROOT

PROJECT = "vllm-platform"

# Values the tests plant for secret keys; tests assert they never leak.
TEST_SECRETS: dict[str, str] = {
    "hfToken": "hf_TESTTOKENabcdef0123456789",
    "vllmApiKey": "sk-test-vllm-api-key-0123456789",
    "registryPassword": "owner-pw-Zq8!xT",
    "registryWriterPassword": "writer-pw-Kd3#pL",
    "registryReaderPassword": "reader-pw-Vb7$nR",
}

FAKE_KUBECONFIG = yaml.safe_dump(
    {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "lke123456",
                "cluster": {
                    "server": "https://123456.us-ord-1.linodelke.net:443",
                    "certificate-authority-data": "LS0tLS1CRUdJTi1GQUtF",
                },
            }
        ],
        "users": [{"name": "lke123456-admin", "user": {"token": "kube-admin-token-XYZ"}}],
        "contexts": [
            {
                "name": "lke123456-ctx",
                "context": {"cluster": "lke123456", "user": "lke123456-admin"},
            }
        ],
        "current-context": "lke123456-ctx",
    }
)


def fake_s3_endpoint(region: str) -> str:
    """The mocked bucket's ``s3Endpoint``: an E2-style host (``<region>-10``), which the
    ``<region>-1.linodeobjects.com`` pattern of E0/E1 endpoints would get wrong."""
    return f"{region}-10.linodeobjects.com"


@dataclass
class Registered:
    typ: str
    name: str
    urn: str
    id: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    provider: str
    parent: str
    protect: bool
    custom_timeouts: dict[str, str]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    additional_secret_outputs: list[str]
    aliases: list[str]
    ignore_changes: list[str]
    delete_before_replace: bool
    custom: bool
    # Dotted paths of inputs the program passed as secrets (e.g. "stringData.api-key").
    secret_inputs: list[str] = field(default_factory=list)

    @property
    def k8s_name(self) -> str:
        return str(self.inputs.get("metadata", {}).get("name", ""))


@dataclass
class ProgramRun:
    stack: str
    resources: list[Registered]
    outputs: dict[str, Any]
    secret_outputs: set[str]
    config: dict[str, str]
    logs: list[str] = field(default_factory=list)

    def by_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str, name: str | None = None) -> Registered:
        found = [r for r in self.by_type(typ) if name is None or r.name == name]
        if len(found) != 1:
            raise AssertionError(f"expected one {typ} {name or ''}, found {len(found)}")
        return found[0]

    def by_urn(self, urn: str) -> Registered:
        for r in self.resources:
            if r.urn == urn:
                return r
        raise KeyError(urn)

    def kubernetes(self) -> list[Registered]:
        return [r for r in self.resources if r.typ.startswith("kubernetes:") and r.custom]


def _k8s_outputs(args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
    outs = copy.deepcopy(args.inputs)
    meta = outs.setdefault("metadata", {})
    meta.setdefault("name", args.name)
    meta.setdefault("uid", f"uid-{args.name}")
    kind = args.typ.rsplit(":", 1)[-1]
    spec = outs.get("spec", {})
    if kind in ("Deployment", "StatefulSet"):
        replicas = spec.get("replicas", 1)
        outs["status"] = {"replicas": replicas, "readyReplicas": replicas}
    elif kind == "Job":
        outs["status"] = {"succeeded": 1}
    elif kind == "Service":
        outs.setdefault("spec", {})["clusterIP"] = "10.128.0.42"
    elif kind == "DaemonSet":
        outs["status"] = {"numberReady": 1, "desiredNumberScheduled": 1}
    return outs


def _outputs_for(args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
    typ = args.typ
    inputs = dict(args.inputs)
    if typ == "linode:index/lkeCluster:LkeCluster":
        pools = [
            {**p, "id": 1000 + i, "nodes": [{"id": f"node-{i}", "status": "ready"}]}
            for i, p in enumerate(inputs.get("pools", []))
        ]
        return "123456", {
            **inputs,
            "pools": pools,
            "kubeconfig": base64.b64encode(FAKE_KUBECONFIG.encode()).decode(),
            "apiEndpoints": ["https://123456.us-ord-1.linodelke.net:443"],
            "status": "ready",
            "dashboardUrl": "https://console.example/lke/123456",
        }
    if typ == "linode:index/lkeNodePool:LkeNodePool":
        count = inputs.get("nodeCount", 1)
        return "654321", {
            **inputs,
            "poolId": 654321,
            "nodes": [{"id": f"gpu-node-{i}", "status": "ready"} for i in range(int(count))],
        }
    if typ == "linode:index/objectStorageBucket:ObjectStorageBucket":
        host = fake_s3_endpoint(str(inputs["region"]))
        return f"{inputs['region']}:{inputs['label']}", {
            **inputs,
            "hostname": f"{inputs['label']}.{host}",
            "s3Endpoint": host,
            "endpointType": "E2",
        }
    if typ == "linode:index/objectStorageKey:ObjectStorageKey":
        return "4242", {**inputs, "accessKey": "FAKEACCESSKEY", "secretKey": "fake-secret-key"}
    if typ == "pulumi:pulumi:StackReference":
        return inputs.get("name", args.name), {
            "name": inputs.get("name", args.name),
            "outputs": {"kubeconfig": FAKE_KUBECONFIG, "clusterId": "123456"},
            "secretOutputNames": ["kubeconfig"],
        }
    if typ.startswith("pulumi:providers:"):
        return f"{args.name}-provider-id", inputs
    if typ.startswith("pulumi-python:dynamic"):
        outs = {k: v for k, v in inputs.items() if k != "__provider"}
        if typ.endswith(":RegistryRollout"):
            # As the provider's create on a first deploy (no row yet): the target's Job.
            outs["rollout_id"] = inputs.get("target_smoke_job")
        return f"{args.name}-id", outs
    if typ.startswith("kubernetes:"):
        if typ.startswith("kubernetes:helm.sh"):
            return args.name, {**inputs, "status": {"status": "deployed"}}
        outs = _k8s_outputs(args)
        meta = outs["metadata"]
        ident = f"{meta.get('namespace', '')}/{meta['name']}".lstrip("/")
        return ident, outs
    return f"{args.name}-id", inputs


class _Mocks(pulumi.runtime.Mocks):
    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        return _outputs_for(args)

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registered: list[Registered] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            return response
        reg = self.resources[response.urn]
        from pulumi.runtime import rpc

        inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
        ct = request.customTimeouts
        self.registered.append(
            Registered(
                typ=request.type,
                name=request.name,
                urn=response.urn,
                id=reg.id,
                inputs=_plain(inputs),
                outputs=_plain(reg.state),
                provider=request.provider,
                parent=request.parent,
                protect=bool(request.protect),
                custom_timeouts={
                    k: v
                    for k, v in (
                        ("create", ct.create),
                        ("update", ct.update),
                        ("delete", ct.delete),
                    )
                    if v
                },
                dependencies=list(request.dependencies),
                property_dependencies={
                    k: list(v.urns) for k, v in request.propertyDependencies.items()
                },
                additional_secret_outputs=list(request.additionalSecretOutputs),
                aliases=[_alias_urn(response.urn, a) for a in request.aliases],
                ignore_changes=list(request.ignoreChanges),
                delete_before_replace=bool(request.deleteBeforeReplace),
                custom=bool(request.custom),
                secret_inputs=_secret_paths(inputs),
            )
        )
        return response

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().ReadResource(request)  # type: ignore[no-untyped-call]
        from pulumi.runtime import rpc

        inputs = rpc.deserialize_properties(request.properties, keep_unknowns=True)
        self.registered.append(
            Registered(
                typ=request.type,
                name=request.name,
                urn=response.urn,
                id=request.id,
                inputs=_plain(inputs),
                outputs=_plain(rpc.deserialize_properties(response.properties)),
                provider=request.provider,
                parent=request.parent,
                protect=False,
                custom_timeouts={},
                dependencies=list(request.dependencies),
                property_dependencies={},
                additional_secret_outputs=list(request.additionalSecretOutputs),
                aliases=[],
                ignore_changes=[],
                delete_before_replace=False,
                custom=True,
            )
        )
        return response


def _alias_urn(urn: str, alias: Any) -> str:
    """The URN an alias stands for: given as a URN, or as a spec renaming or retyping it.

    Renames (``pulumi.Alias(name=...)``) and type aliases (pulumi-kubernetes adds one per older
    apiVersion) are resolved under the same parent; a spec that moves the parent, stack or
    project fails loudly here rather than being checked wrongly.
    """
    if alias.urn:
        return str(alias.urn)
    spec = alias.spec
    if spec.stack or spec.project or spec.parentUrn or spec.noParent:
        raise NotImplementedError(f"alias spec beyond a rename or retype: {spec}")
    head, qualified_type, name = urn.rsplit("::", 2)
    parents, _, own_type = qualified_type.rpartition("$")
    new_type = spec.type or own_type
    qualified = f"{parents}${new_type}" if parents else new_type
    return f"{head}::{qualified}::{spec.name or name}"


def _secret_paths(value: Any, prefix: str = "") -> list[str]:
    """Where secret markers sit in serialized inputs, as dotted paths."""
    if isinstance(value, Mapping):
        if value.get(pulumi.runtime.rpc._special_sig_key) == pulumi.runtime.rpc._special_secret_sig:
            return [prefix]
        return [
            p
            for k, v in value.items()
            for p in _secret_paths(v, f"{prefix}.{k}" if prefix else str(k))
        ]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _secret_paths(v, f"{prefix}[{i}]")]
    return []


def _plain(value: Any) -> Any:
    """Unwrap secret markers so tests can look at values; secrecy is asserted separately."""
    if isinstance(value, Mapping):
        if value.get(pulumi.runtime.rpc._special_sig_key) == pulumi.runtime.rpc._special_secret_sig:
            return _plain(value.get("value"))
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def reset_runtime() -> None:
    """A fresh event loop and no root stack, so nothing of an earlier (failed) run lingers.

    A run that raised leaves registrations pending on the loop; run later, they would fail the
    next run with the earlier run's error.
    """
    loop = asyncio.get_event_loop_policy().get_event_loop()
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()
    asyncio.set_event_loop(asyncio.new_event_loop())
    # As pulumi.runtime.test does: forget outstanding RPCs and outputs of earlier runs.
    pulumi_settings.SETTINGS.rpc_manager.clear()
    pulumi_settings.SETTINGS.outputs.clear()
    pulumi_settings.ROOT.set(None)


def mocked_run(
    program: Callable[[], None],
    *,
    stack: str,
    config: Mapping[str, str] | None = None,
    secret_keys: list[str] | None = None,
    preview: bool = False,
) -> _RecordingMonitor:
    """Run ``program`` in a fresh Pulumi mock runtime; the monitor holds every registration."""
    reset_runtime()
    mocks = _Mocks()
    monitor = _RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config or {}), secret_keys or [])
    _sync_await(run_pulumi_func(program))
    return monitor


def stack_file_config(stack: str) -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    return dict(doc.get("config") or {})


def engine_config(
    config: Mapping[str, Any], secrets: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """Config as the engine hands it to a program: strings, objects as JSON, secrets listed
    (a secret's key is the project's unless it names its namespace: ``linode:token``)."""
    out: dict[str, str] = {}
    for key, value in config.items():
        out[key] = value if isinstance(value, str) else json.dumps(value)
    secret_keys = []
    for key, value in secrets.items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        out[full] = value
        secret_keys.append(full)
    return out, secret_keys


def run_program(
    stack: str,
    *,
    config: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
    preview: bool = False,
) -> ProgramRun:
    """Run ``__main__.py`` for ``stack`` under mocks.

    ``config`` replaces the stack file's config (full keys); ``overrides`` are merged on top
    (``"cluster"`` means ``vllm-platform:cluster``); ``secrets`` default to ``TEST_SECRETS``.
    """
    cfg = dict(stack_file_config(stack) if config is None else config)
    for key, value in (overrides or {}).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if value is None:
            cfg.pop(full, None)
        else:
            cfg[full] = value
    flat, secret_keys = engine_config(cfg, TEST_SECRETS if secrets is None else secrets)

    main = str(ROOT / "__main__.py")

    def program() -> None:
        runpy.run_path(main, run_name="__main__")

    monitor = mocked_run(
        program, stack=stack, config=flat, secret_keys=secret_keys, preview=preview
    )

    root = pulumi_settings.get_root_resource()
    outputs: dict[str, Any] = {}
    secret_outputs: set[str] = set()
    for name, value in getattr(root, "outputs", {}).items():
        out = pulumi.Output.from_input(value)
        outputs[name] = _plain(_sync_await(out.future(with_unknowns=True)))
        if _sync_await(out.is_secret()):
            secret_outputs.add(name)
    return ProgramRun(
        stack=stack,
        resources=monitor.registered,
        outputs=outputs,
        secret_outputs=secret_outputs,
        config=flat,
    )


_COMMITTED_RUNS: dict[tuple[str, tuple[tuple[str, str], ...]], ProgramRun] = {}


def committed_run(stack: str) -> ProgramRun:
    """``run_program(stack)`` for the committed stack file as it is, run once per process.

    The program is deterministic for the same stack file, secrets and environment, so the run
    is cached, keyed on the stack and the environment (``monkeypatch.setenv`` gets a run of
    its own; pytest's per-test ``PYTEST_CURRENT_TEST`` aside), and each caller gets a private
    deep copy it may mutate. For tests that patch nothing else: a test that monkeypatches
    code, or needs the program really run in its own body (pickler state, a failed earlier
    run), calls ``run_program``.
    """
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"))
    key = (stack, env)
    if key not in _COMMITTED_RUNS:
        _COMMITTED_RUNS[key] = run_program(stack)
    return copy.deepcopy(_COMMITTED_RUNS[key])
