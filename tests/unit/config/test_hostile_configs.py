"""Sneaky stack files, tried as a new user would: `ops plan` (in-process) refuses each with exit 2,
the key path in the message and no traceback, or, where refusing is not the only right answer,
reaches a safe outcome that the case checks.

Every case starts from the committed production stack (or development where noted) and changes
one thing, either in the parsed document or in the file's text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.hostile import HF, Case, Doc, P, args, both, put, rendered, run_case

SK = "sk-" + "live0123456789abcdefghij"
PEM_KEY = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
)
PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"


def _duplicate_environment(text: str) -> str:
    return text + "  vllm-platform:environment: development\n"


def _duplicate_nested(text: str) -> str:
    return text.replace("      replicas: 2\n", "      replicas: 2\n      replicas: 1\n", 1)


def _alias_bomb(text: str) -> str:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1}]" for i in range(1, 12)]
    return "\n".join(lines) + "\n" + text.replace("config:", "config:\n  vllm-platform:x: *a11", 1)


def _plain_alias(text: str) -> str:
    text = text.replace("    monitoring:\n", "    monitoring: &mon\n", 1)
    return text + "  vllm-platform:observability:\n    ruleLabels: *mon\n"


def _needs_hf_token(out: str, _: Path) -> None:
    required = [line for line in out.splitlines() if "--secret hfToken" in line]
    assert required and "(optional)" not in required[0], out
    assert "gated models llama-3-3-70b-instruct, llama-3-1-8b-instruct" in required[0]


def _all_open(doc: Doc) -> None:
    for model in doc["config"][P + "models"]:
        model["gated"] = False


def _hf_token_optional(out: str, _: Path) -> None:
    assert "(optional) pulumi config set --stack hostile --secret hfToken" in out


def _scrapers_only(_: str, path: Path) -> None:
    for obj in rendered(path):
        if obj["kind"] == "NetworkPolicy" and obj["spec"].get("ingress"):
            peers = obj["spec"]["ingress"][0]["from"]
            monitoring = [p for p in peers if "monitoring" in str(p.get("namespaceSelector"))]
            for peer in monitoring:
                assert peer["podSelector"]["matchLabels"], obj["metadata"]["name"]


def _args_rendered(*expected: str) -> Callable[[str, Path], None]:
    def check(_: str, path: Path) -> None:
        workloads = [o for o in rendered(path) if o["kind"] in ("StatefulSet", "Deployment")]
        container = workloads[1]["spec"]["template"]["spec"]["containers"][0]
        assert container["args"][-len(expected) :] == list(expected)

    return check


def _names_fit(_: str, path: Path) -> None:
    """Every derived name fits Kubernetes' limits: a DNS label (63), room for the StatefulSet's
    controller-revision-hash label (<name>-<10 chars>) and the Job's job-name label."""
    objects = rendered(path)
    assert any(len(o["metadata"]["name"]) >= 55 for o in objects)  # the smoke Job
    for obj in objects:
        name = obj["metadata"]["name"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name) and len(name) <= 63, name
        if obj["kind"] == "StatefulSet":
            assert len(name) + 11 <= 63, name


def _caution(text: str) -> Callable[[str, Path], None]:
    def check(out: str, _: Path) -> None:
        assert text in out, out

    return check


def _same_as_unquoted(out: str, _: Path) -> None:
    assert "environment development" in out


_PREVIOUS = {
    "image": "vllm/vllm-openai:v0.32.0",
    "revision": "5206a32e0bd3067aef1ce90f5528ade7d866253f",
    "until": "2999-01-01T00:00:00Z",
}
_KEEP = {"keepPrevious": 30, "previous": _PREVIOUS}
EXTRA = "models[1].extraArgs[0]"
CASES = [
    # 1. managed vLLM flags in other spellings, and flags that bypass them
    Case("abbrev tensor parallel", args("--tensor-parallel", "4"), path=EXTRA),
    Case("abbrev max model", args("--max-model", "131072"), path=EXTRA),
    Case("abbrev gpu memory util", args("--gpu-memory-util", "0.99"), path=EXTRA),
    Case("abbrev served model", args("--served-model", "other"), path=EXTRA),
    Case("abbrev host", args("--hos", "127.0.0.1"), path=EXTRA),
    Case("abbrev api key", args("--api-k", SK), path=EXTRA, never_echoed=SK),
    Case("abbrev hf token", args("--hf-tok", HF), path=EXTRA, never_echoed=HF),
    Case("underscore equals", args("--tensor_parallel_size=2"), path=EXTRA),
    Case("underscore spaced", args("--max_model_len", "100"), path=EXTRA),
    Case("short tp", args("-tp", "4"), path=EXTRA),
    Case("short prefix of tp", args("-t", "4"), path=EXTRA),
    Case("port equals", args("--port=9000"), path=EXTRA),
    Case("model equals", args("--model=other/model"), path=EXTRA),
    Case("abbrev download dir", args("--download", "/d"), path=EXTRA),
    Case("abbrev revision", args("--rev", "main"), path=EXTRA),
    Case("uds", args("--uds", "/tmp/vllm.sock"), path=EXTRA),
    Case("config file", args("--config", "/etc/vllm.yaml"), path=EXTRA),
    Case("config equals", args("--config=/etc/vllm.yaml"), path=EXTRA),
    Case("headless", args("--headless"), path=EXTRA),
    Case("ssl keyfile", args("--ssl-keyfile", "/k.pem"), path=EXTRA),
    Case("middleware", args("--middleware", "evil.Middleware"), path=EXTRA),
    Case("root path", args("--root-path", "/api"), path=EXTRA),
    Case("no metrics", args("--disable-log-stats"), path=EXTRA),
    Case("dotted managed", args("--api-key.x", "1"), path=EXTRA),
    Case("unknown flag", args("--definitely-not-a-flag", "1"), path=EXTRA),
    Case("ambiguous prefix", args("--max", "1"), path=EXTRA),
    Case("stray value", args("fp8"), path=EXTRA),
    Case("bool flag given a value", args("--enable-prefix-caching=yes"), path=EXTRA),
    Case("double dash", args("--", "--port", "1"), path=EXTRA),
    Case(
        "secret in a flag value",
        args("--otlp-traces-endpoint", "https://user:pw@otel.example.com"),
        path="models[1].extraArgs[1]",
        never_echoed="user:pw",
    ),
    Case("secret in a dotted value", args("--hf-overrides.t", HF), path="models[1].extraArgs[1]"),
    Case(
        "legit spellings are served as written",
        both(
            put("models[1].precision", "fp8"), args("--quantization=fp8", "--enable_prefix_caching")
        ),
        safe=_args_rendered("--quantization=fp8", "--enable_prefix_caching"),
    ),
    Case(
        "image without contract data: judged by the newest, with a caution",
        put("models[0].image", "vllm/vllm-openai:v0.10.1"),
        safe=_caution("no vLLM flag contract for image 'vllm/vllm-openai:v0.10.1'"),
        stack="development",
    ),
    Case(
        "image without contract data still refuses managed spellings",
        put("models[0].extraArgs", ["--tensor-parallel", "2"]),
        text=lambda t: t.replace("vllm-openai:v0.32.0", "vllm-openai:v0.10.1", 1),
        path="models[0].extraArgs[0]",
        stack="development",
    ),
    # 2. names
    Case("namespace kube-system", put("namespace", "kube-system"), path="namespace"),
    Case("namespace default", put("namespace", "default"), path="namespace"),
    Case(
        "namespace of the device plugin", put("namespace", "nvidia-device-plugin"), path="namespace"
    ),
    Case("namespace kube- prefix", put("namespace", "kube-extra"), path="namespace"),
    Case("namespace is the router's", put("namespace", "api-router"), path="namespace"),
    Case(
        "model named <other>-smoke",
        put("models[1].name", "llama-3-3-70b-instruct-smoke"),
        path="models[1].name",
    ),
    Case(
        "model named <other>-pods",
        put("models[2].name", "llama-3-1-8b-instruct-pods"),
        path="models[2].name",
    ),
    Case(
        "model named like the default deny",
        put("models[2].name", "default-deny-ingress"),
        path="models[2].name",
    ),
    Case(
        "model names repeated",
        put("models[2].name", "llama-3-1-8b-instruct"),
        path="models[2].name",
    ),
    Case(
        "model name too long for derived names",
        put("models[2].name", "m" * 41),
        path="models[2].name",
    ),
    Case(
        "longest model name: every derived name still fits",
        put("models[2].name", "q" * 40),
        safe=_names_fit,
    ),
    Case(
        "longest model name keeping its previous revision: the revision-named workloads fit",
        both(
            put("models[2].name", "q" * 40),
            put("cluster.gpuPool.autoscaler.max", 11),
            put("models[2].rollout", _KEEP),
        ),
        safe=_names_fit,
    ),
    Case(
        "kept revision's window end not a time",
        both(
            put("cluster.gpuPool.autoscaler.max", 11),
            put("models[2].rollout", {**_KEEP, "previous": {**_PREVIOUS, "until": "tomorrow"}}),
        ),
        path="models[2].rollout.previous.until",
    ),
    Case("model name not DNS", put("models[2].name", "Qwen_7B"), path="models[2].name"),
    # 3. values Kubernetes or LKE would reject
    Case(
        "cidr prefix out of range",
        put("cluster.controlPlaneAcl", ["203.0.113.0/33"]),
        path="cluster.controlPlaneAcl[0]",
    ),
    Case(
        "cidr host bits set",
        put("cluster.controlPlaneAcl", ["203.0.113.5/24"]),
        path="cluster.controlPlaneAcl[0]",
    ),
    Case(
        "cidr without prefix",
        put("cluster.controlPlaneAcl", ["203.0.113.5"]),
        path="cluster.controlPlaneAcl[0]",
    ),
    Case(
        "cidr that is no address",
        put("cluster.controlPlaneAcl", ["999.1.1.1/8"]),
        path="cluster.controlPlaneAcl[0]",
    ),
    Case(
        "storage class no k8s name",
        put("models[0].weightCache", {"storageClass": "Fast_SSD"}),
        path="models[0].weightCache.storageClass",
    ),
    Case(
        "ingress class no k8s name",
        put("models[0].ingress", {"host": "llm.example.com", "className": "Nginx Public"}),
        path="models[0].ingress.className",
    ),
    Case(
        "cron minute out of range",
        put("healthReporter", {"schedule": "61 * * * *"}),
        path="healthReporter.schedule",
    ),
    Case(
        "cron weekday 7",
        put("healthReporter", {"schedule": "0 0 * * 7"}),
        path="healthReporter.schedule",
    ),
    Case(
        "cron range backwards",
        put("healthReporter", {"schedule": "30-10 * * * *"}),
        path="healthReporter.schedule",
    ),
    Case(
        "memory in millibytes",
        put("models[0].resources", {"memory": "128m"}),
        path="models[0].resources.memory",
    ),
    Case("cpu zero", put("models[0].resources", {"cpu": "0"}), path="models[0].resources.cpu"),
    Case(
        "cpu in words", put("models[0].resources", {"cpu": "two"}), path="models[0].resources.cpu"
    ),
    Case(
        "cpu below a millicore",
        put("models[0].resources", {"cpu": "0.0001"}),
        path="models[0].resources.cpu",
    ),
    Case(
        "true as a GPU count",
        put("models[1].gpusPerReplica", True),
        path="models[1].gpusPerReplica",
    ),
    Case("true as replicas", put("models[1].replicas", True), path="models[1].replicas"),
    Case("number as text", put("registry.port", "5432"), path="registry.port"),
    Case("float k8s version", put("cluster.k8sVersion", 1.33), path="cluster.k8sVersion"),
    Case(
        "plan LKE cannot create",
        put("cluster.gpuPool.type", "g1-gpu-rtx6000-2"),
        path="cluster.gpuPool.type",
    ),
    Case("registry host with a space", put("registry.host", "db host"), path="registry.host"),
    # A DSN pasted where the host goes: refused without echoing it (the plan reaches PRs).
    Case(
        "registry host is a URL with a password",
        put("registry.host", "postgresql://owner:hunter2@db.example.com/registry"),
        path="registry.host",
        never_echoed="hunter2",
    ),
    Case(
        "registry host is a libpq string with a password",
        put("registry.host", "host=db.example.com password=hunter2"),
        path="registry.host",
        never_echoed="hunter2",
    ),
    Case(
        "infinite utilisation",
        put("models[1].gpuMemoryUtilization", float("inf")),
        path="models[1].gpuMemoryUtilization",
    ),
    # 4. secrets in plain text
    Case(
        "credentials in the prometheus url",
        put("observability", {"prometheusUrl": "https://admin:hunter2@prom.example.com"}),
        path="observability.prometheusUrl",
        never_echoed="hunter2",
    ),
    Case(
        "a second, reporter-only CA (one CA for every client: registry.sslRootCert)",
        put("healthReporter", {"sslRootCert": PEM_CERT + PEM_KEY}),
        path="healthReporter.sslRootCert",
    ),
    Case(
        "provider token in plain text",
        put("linode:token", "ab" * 32),
        path="linode:token",
        never_echoed="ab" * 32,
    ),
    Case(
        "provider password in plain text",
        put("postgresql:password", "hunter2"),
        path="postgresql:password",
        never_echoed="hunter2",
    ),
    Case(
        "provider value with a token", put("github:owner", HF), path="github:owner", never_echoed=HF
    ),
    Case("api key in plain text", put("vllmApiKey", SK), path="vllmApiKey", never_echoed=SK),
    Case(
        "token in a label",
        put("observability", {"ruleLabels": {"t": HF}}),
        path="observability.ruleLabels.t",
        never_echoed=HF,
    ),
    Case(
        "password-like key",
        put("registry.password", "hunter2"),
        path="registry.password",
        never_echoed="hunter2",
    ),
    # 5. one reading of the stack file
    Case("duplicate top-level key", text=_duplicate_environment, path="vllm-platform:environment"),
    Case("duplicate nested key", text=_duplicate_nested, path="replicas"),
    Case("alias bomb", text=_alias_bomb, path="alias"),
    Case("any alias", text=_plain_alias, path="alias"),
    Case("quoted null namespace", put("namespace", "null"), path="namespace"),
    Case("quoted true namespace", put("namespace", "true"), path="namespace"),
    Case("quoted false protect", put("protect", "false"), path="protect"),
    Case("null namespace", put("namespace", None), path="namespace"),
    Case(
        "yaml date",
        put("models[0].revision", __import__("datetime").date(2024, 1, 1)),
        path="models[0].revision",
    ),
    Case(
        "non-string label key",
        put("network.apiRouter.podSelector", {1: "router"}),
        path="network.apiRouter.podSelector.1",
    ),
    Case(
        "quoted environment is the same text",
        put("environment", "development"),
        safe=_same_as_unquoted,
        stack="development",
    ),
    # 6. inference without the key
    Case(
        "monitoring admits every pod",
        put("network.monitoring", {"namespace": "monitoring", "podSelector": {}}),
        path="network.monitoring.podSelector",
    ),
    Case(
        "router admits every pod",
        put("network.apiRouter.podSelector", {}),
        path="network.apiRouter.podSelector",
    ),
    Case(
        "monitoring without a selector admits only prometheus pods",
        put("network.monitoring", {"namespace": "monitoring"}),
        safe=_scrapers_only,
    ),
    # 7. gated models
    Case(
        "gated models without a token: plan requires it",
        put("environment", "production"),
        safe=_needs_hf_token,
    ),
    Case(
        "gated flag off: token optional",
        _all_open,
        safe=_hf_token_optional,
    ),
    Case("gated flag is a boolean", put("models[2].gated", "yes"), path="models[2].gated"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_hostile_stack_file(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_case(case, tmp_path, capsys)


def test_the_suite_has_at_least_sixty_distinct_cases() -> None:
    ids = [c.id for c in CASES]
    assert len(set(ids)) == len(ids) >= 60
