"""components/manifests/vllm/args.py: the server's command line and environment."""

from __future__ import annotations

from components.manifests.toolkit import API_KEY_SECRET, HF_TOKEN_SECRET
from components.manifests.vllm.args import server_args, server_env
from components.manifests.vllm.workload import (
    workload,
)
from tests.unit.manifests.vllm.support import container, stack

# ------------------------------------------------------------------------------------ args


def test_args_put_the_model_first_then_managed_flags_then_extra_args() -> None:
    _, m, _ = stack()
    args = server_args(m)
    assert args[0] == "meta-llama/Llama-3.3-70B-Instruct"
    pairs = dict(zip(args[1:-5:2], args[2:-5:2], strict=True))
    assert pairs == {
        "--served-model-name": "llama-3-3-70b-instruct",
        "--host": "127.0.0.1",
        "--port": "8001",
        "--tensor-parallel-size": "2",
        "--max-model-len": "32768",
        "--gpu-memory-utilization": "0.92",
        "--revision": "6f6073b423013f6a7d4d9f39144961bfbfbc386b",
    }
    assert args[-5:] == [
        "--quantization",
        "fp8",
        "--kv-cache-dtype",
        "fp8",
        "--enable-prefix-caching",
    ]


def test_served_model_name_is_always_set_even_without_extra_args() -> None:
    _, m, _ = stack(model=2)
    args = server_args(m)
    assert args[args.index("--served-model-name") + 1] == m.name
    assert args[-2:] == ["--revision", m.revision]


def test_server_command_is_vllm_serve_with_positional_model() -> None:
    cfg, m, plan = stack()
    c = container(workload(cfg, m, plan))
    assert c["command"] == ["vllm", "serve"]
    assert "--model" not in c["args"]


def test_secrets_come_only_from_secret_key_refs() -> None:
    _, m, _ = stack()
    env = {e["name"]: e for e in server_env(m)}
    assert env["VLLM_API_KEY"] == {
        "name": "VLLM_API_KEY",
        "valueFrom": {"secretKeyRef": {"name": API_KEY_SECRET, "key": "api-key"}},
    }
    # Llama is gated: without the Secret the pod must not start (not crash-loop on 401s).
    assert m.needs_hf_token
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": HF_TOKEN_SECRET, "key": "token"}
    _, qwen, _ = stack(model=2)  # Qwen/*: public weights, the token stays optional
    assert not qwen.needs_hf_token
    qenv = {e["name"]: e for e in server_env(qwen)}
    assert qenv["HF_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert "value" not in env["VLLM_API_KEY"] and "value" not in env["HF_TOKEN"]
    assert not any("api-key" in a or "token" in a.lower() for a in server_args(m))


def test_hf_home_is_on_the_weight_cache_volume() -> None:
    cfg, m, plan = stack()
    c = container(workload(cfg, m, plan))
    env = {e["name"]: e.get("value") for e in c["env"]}
    mounts = {v["name"]: v["mountPath"] for v in c["volumeMounts"]}
    assert env["HF_HOME"].startswith(mounts["weights"] + "/")
