"""Hostile stack files against the boundaries the real systems enforce (issue 23, items 3-5 and
the config part of 7): `ops plan` (in-process) refuses each with exit 2 and the key path, no
traceback, or reaches a safe outcome that the case checks.

- Kubernetes expands ``$(VAR)`` in a container's command, args and env values and turns ``$$``
  into ``$`` (kubelet expansion, see docs/provider-semantics.md); a config value that reaches a
  container holds neither.
- Nothing moving in staging/production: no moving image tag (in any case), no flag that makes
  vLLM read code, a tokenizer or weights other than the pinned revision the init container
  fetched, however the flag is spelled.
- One environment cannot take another's place: namespaces, role names, the stack's name, the
  cluster stack it attaches to, the GPU enablement of a cluster another stack owns.
- Numbers and nesting no parser here can take: a clear error, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.hostile import Case, Doc, args, both, put, rendered, run_case
from tests.support.kubelet import expand, mapping_for

REVISION_1 = "0e9e39f249a16976918f6564b8830bc894c89659"  # models[1]'s pinned revision
OTHER_COMMIT = "a09a35458c702b33eeacc393d103063234e8bc28"
DIGEST = "sha256:014a95f21c9edf6abe0aea6b07353f96baa4ec291c427bb1176dc7c93a85845c"


def _server(objects: list[dict[str, Any]], index: int) -> dict[str, Any]:
    workloads = [o for o in objects if o["kind"] in ("StatefulSet", "Deployment")]
    container: dict[str, Any] = workloads[index]["spec"]["template"]["spec"]["containers"][0]
    return container


def _served_verbatim_and_offline(*expected: str) -> Callable[[str, Path], None]:
    """The flags reach the container as written, and the server runs offline: it reads only
    what the fetch-weights init container fetched at the pinned revision."""

    def check(_: str, path: Path) -> None:
        container = _server(rendered(path), 1)
        assert container["args"][-len(expected) :] == list(expected)
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env.get("HF_HUB_OFFLINE") == "1", env
        names = mapping_for({name: f"<{name}>" for name in env})
        assert [expand(a, names) for a in container["args"]] == container["args"]

    return check


def _accepted(_: str, __: Path) -> None:
    """Accepted: `ops plan` exited 0 (run_case checks it)."""


def _image(tag: str, model: int = 0) -> Callable[[Doc], None]:
    return put(f"models[{model}].image", f"vllm/vllm-openai:{tag}")


def _attach(reference: str) -> Callable[[Doc], None]:
    """Production's cluster section turned into `mode: stack` on ``reference``'s cluster."""

    def apply(doc: Doc) -> None:
        cluster = doc["config"]["vllm-platform:cluster"]
        for key in ("label", "region", "k8sVersion", "highAvailability", "controlPlaneAcl"):
            cluster.pop(key, None)
        for key in ("tags", "systemPool"):
            cluster.pop(key, None)
        cluster.update(mode="stack", stackReference=reference, clusterId="lke-shared")

    return apply


def _deep(text: str) -> str:
    return text + "  vllm-platform:gpuBudget: '" + "[" * 100_000 + "]" * 100_000 + "'\n"


def _long_integer(text: str) -> str:
    return text.replace("      replicas: 2\n", "      replicas: " + "9" * 5000 + "\n", 1)


ARG0, ARG1, ARG2 = (f"models[1].extraArgs[{i}]" for i in range(3))
EXPANSION = [
    Case("token by reference in a flag value", args("--response-role", "$(HF_TOKEN)"), path=ARG1),
    Case("api key by reference inline", args("--response-role=$(VLLM_API_KEY)"), path=ARG0),
    Case("reference in a dotted value", args("--hf-overrides.x", "$(HF_TOKEN)"), path=ARG1),
    Case("reference in a flag's name", args("--$(FLAG)"), path=ARG0),
    Case("second of several values", args("--logits-processors", "a.B", "$(HF_TOKEN)"), path=ARG2),
    Case("escaped reference is rewritten too", args("--response-role", "$$(HF_TOKEN)"), path=ARG1),
    Case("double dollar is rewritten", args("--response-role", "a$$b"), path=ARG1),
    Case(
        "registry database by reference (PGDATABASE)",
        put("registry.database", "$(PGPASSWORD)"),
        path="registry.database",
    ),
    Case(
        "a lone dollar reaches vLLM as written",
        args("--response-role", "cost$1", "--chat-template-content-format=$x"),
        safe=_served_verbatim_and_offline(
            "--response-role", "cost$1", "--chat-template-content-format=$x"
        ),
    ),
]

MOVING = [
    *(
        Case(f"image tag {tag}", _image(tag), path="models[0].image")
        for tag in ("nightly", "Latest", "LATEST", "main", "MAIN", "master", "dev", "stable")
    ),
    Case("image tag with a moving word", _image("latest-cu128"), path="models[0].image"),
    Case("dated nightly tag", _image("nightly-2025.10.01"), path="models[0].image"),
    Case("major-only tag", _image("v0"), path="models[0].image"),
    Case("moving tag in staging", _image("Nightly"), path="models[0].image", stack="staging"),
    # Pinned by the digest, but `latest` names no vLLM version, so no contract judges it
    # (components/config/vllm_image.py); a release tag with the digest is accepted.
    Case("moving tag pinned by digest", _image(f"latest@{DIGEST}"), path="models[0].image"),
    Case("release tag pinned by digest", _image(f"v0.32.0@{DIGEST}"), safe=_accepted),
    Case("moving tag in development", _image("nightly"), safe=_accepted, stack="development"),
    Case(
        "remote code at a branch",
        args("--trust-remote-code", "--code-revision", "main"),
        path=ARG1,
    ),
    Case("code revision abbreviated", args("--trust-remote-code", "--code-rev", "main"), path=ARG1),
    Case("code revision underscored", args("--code_revision=main"), path=ARG0),
    Case(
        "remote code at another commit",
        args("--trust-remote-code", "--code-revision", OTHER_COMMIT),
        path=ARG1,
    ),
    Case(
        "remote code at the pinned revision, served offline",
        args("--trust-remote-code", "--code-revision", REVISION_1),
        safe=_served_verbatim_and_offline("--trust-remote-code", "--code-revision", REVISION_1),
    ),
    Case(
        "tokenizer of another repo at a branch",
        args("--tokenizer", "other/repo", "--tokenizer-revision", "main"),
        path=ARG0,
    ),
    Case("tokenizer abbreviated (ambiguous)", args("--tok", "other/repo"), path=ARG0),
    Case("tokenizer inline", args("--tokenizer=other/repo"), path=ARG0),
    Case("tokenizer revision underscored", args("--tokenizer_revision", "main"), path=ARG0),
    Case("random weights", args("--load-format", "dummy"), path=ARG0),
    Case("random weights underscored", args("--load_format=dummy"), path=ARG0),
    Case("random weights upper case", args("--load-format", "DUMMY"), path=ARG0),
    Case("random weights abbreviated", args("--load-f", "dummy"), path=ARG0),
    Case("random weights in staging", args("--load-format=dummy"), path=ARG0, stack="staging"),
    Case("weights the init container does not fetch", args("--load-format", "pt"), path=ARG0),
    Case(
        "draft model of another repo",
        args("--speculative-config", '{"model": "other/draft", "num_speculative_tokens": 3}'),
        path=ARG0,
    ),
    Case("draft model dotted", args("--speculative-config.model", "other/draft"), path=ARG0),
    Case("adapter of another repo", args("--lora-modules", "a=other/lora"), path=ARG0),
    Case("config of another repo", args("--hf-config-path", "other/repo"), path=ARG0),
    Case(
        "development may follow a branch",
        args("--quantization", "fp8", "--tokenizer", "o/r", "--tokenizer-revision", "main"),
        safe=_accepted,
        stack="development",
    ),
]

IMPERSONATION = [
    Case(
        "staging takes development's namespace",
        put("namespace", "vllm-development"),
        path="namespace",
        stack="staging",
    ),
    Case(
        "staging names production", put("namespace", "vllm-prod"), path="namespace", stack="staging"
    ),
    Case("production names dev", put("namespace", "vllm-dev"), path="namespace"),
    Case(
        "development takes staging's word",
        put("namespace", "stage-models"),
        path="namespace",
        stack="development",
    ),
    Case(
        "development on its own server takes production's writer role",
        both(
            put("registry.exclusiveServer", True),
            put("registry.writerRole", "vllm_registry_writer_production"),
        ),
        path="registry.writerRole",
        stack="development",
    ),
    Case(
        "development on its own server takes production's reader role",
        both(
            put("registry.exclusiveServer", True),
            put("registry.readerRole", "vllm_registry_reader_production"),
        ),
        path="registry.readerRole",
        stack="development",
    ),
    Case(
        "unmanaged roles: production's role is still production's",
        both(
            put("registry.manageRoles", False),
            put("registry.writerRole", "vllm_registry_writer_production"),
        ),
        path="registry.writerRole",
        stack="staging",
    ),
    Case(
        "abbreviated environment in a role",
        both(put("registry.exclusiveServer", True), put("registry.writerRole", "writer_prod")),
        path="registry.writerRole",
        stack="development",
    ),
    Case(
        "a stack named staging declares production",
        None,
        path="environment",
        file_stack="staging",
    ),
    Case(
        "a stack named production declares development",
        put("environment", "development"),
        path="environment",
        stack="development",
        file_stack="production",
    ),
    Case(
        "a stack named prod-eu is staging",
        None,
        path="environment",
        stack="staging",
        file_stack="prod-eu",
    ),
    Case("a stack named for its own environment", None, safe=_accepted, file_stack="production-eu"),
    Case(
        "production attaches to development's cluster",
        _attach("organization/vllm-platform/development"),
        path="cluster.stackReference",
    ),
    Case(
        "staging attaches to production's cluster",
        put("cluster.stackReference", "organization/vllm-platform/production"),
        path="cluster.stackReference",
        stack="staging",
    ),
    Case(
        "a second device plugin on a cluster another stack owns",
        put("cluster.gpuEnablement", "device-plugin"),
        path="cluster.gpuEnablement",
        stack="staging",
    ),
    Case(
        "a second gpu-operator Helm release on a cluster another stack owns",
        put("cluster.gpuEnablement", "gpu-operator"),
        path="cluster.gpuEnablement",
        stack="staging",
    ),
]

NUMBERS_AND_NESTING = [
    Case(
        "cpu overflows a decimal",
        put("models[0].resources", {"cpu": "1e999999"}),
        path="models[0].resources.cpu",
    ),
    Case(
        "cpu exponent beyond any decimal",
        put("models[0].resources", {"cpu": "1E99999999999999999999"}),
        path="models[0].resources.cpu",
    ),
    Case(
        "memory beyond 2^63-1",
        put("models[0].resources", {"memory": "1e999999"}),
        path="models[0].resources.memory",
    ),
    Case(
        "memory in huge Ei",
        put("models[0].resources", {"memory": "99999999999999999999Ei"}),
        path="models[0].resources.memory",
    ),
    Case(
        "memory underflows",
        put("models[0].resources", {"memory": "1e-999999999"}),
        path="models[0].resources.memory",
    ),
    Case("integer of 5000 digits", text=_long_integer, path="line "),
    Case("quoted JSON nested 100,000 deep", text=_deep, path="gpuBudget"),
]

CASES = [*EXPANSION, *MOVING, *IMPERSONATION, *NUMBERS_AND_NESTING]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_hostile_stack_file(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_case(case, tmp_path, capsys)


def test_every_case_is_distinct() -> None:
    ids = [c.id for c in CASES]
    assert len(set(ids)) == len(ids)
