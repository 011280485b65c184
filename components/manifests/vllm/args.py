"""The vLLM server's command line and environment, from the model's config.

The image's entrypoint is ``vllm serve``; we set ``command`` explicitly anyway so the arguments
do not depend on which entrypoint a given image tag declares, and pass the model as the
positional argument (``--model`` is deprecated for ``vllm serve``).
"""

from __future__ import annotations

from components.config import VLLM_PORT, ModelConfig
from components.manifests.toolkit import (
    API_KEY_SECRET,
    API_KEY_SECRET_KEY,
    HF_TOKEN_SECRET,
    HF_TOKEN_SECRET_KEY,
)
from components.manifests.vllm.names import Manifest

__all__ = [
    "CACHE_MOUNT",
    "HOME_DIR",
    "SERVER_COMMAND",
    "TMP_DIR",
    "server_args",
    "server_env",
    "tensor_parallel_size",
]

SERVER_COMMAND = ["vllm", "serve"]

# Writable locations (the root filesystem is read-only; each is a volume, see workload.py).
CACHE_MOUNT = "/var/cache/vllm-platform"  # the weight cache volume
HF_HOME = f"{CACHE_MOUNT}/huggingface"
HOME_DIR = "/home/vllm"
TMP_DIR = "/tmp"


def tensor_parallel_size(model: ModelConfig) -> int:
    """GPUs one replica spans (1 in CPU mode)."""
    return 1 if model.accelerator == "cpu" else model.gpus_per_replica


def server_args(model: ModelConfig) -> list[str]:
    """Arguments after ``vllm serve``: model, platform-managed flags, then the extra flags.

    ``extraArgs`` were checked by the config (they cannot repeat a managed flag), so the
    managed flags here are the only source of those settings. No secret is ever an argument:
    the API key and the HF token reach vLLM as environment variables from Secrets.
    """
    args = [
        model.hf_model_id,
        "--served-model-name",
        model.name,
        "--host",
        "0.0.0.0",
        "--port",
        str(VLLM_PORT),
        "--tensor-parallel-size",
        str(tensor_parallel_size(model)),
        "--max-model-len",
        str(model.max_model_len),
    ]
    if model.accelerator == "gpu":
        # The CPU backend sizes its KV cache from VLLM_CPU_KVCACHE_SPACE instead.
        args += ["--gpu-memory-utilization", f"{model.gpu_memory_utilization:g}"]
    args += ["--revision", model.revision, *model.extra_args]
    return args


def _secret_env(name: str, secret: str, key: str, *, optional: bool) -> Manifest:
    ref: Manifest = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def server_env(model: ModelConfig) -> list[Manifest]:
    """Environment of the server container: secrets by reference, writable cache paths."""
    env: list[Manifest] = [
        # vLLM requires `Authorization: Bearer <key>` on /v1/* when VLLM_API_KEY is set.
        _secret_env("VLLM_API_KEY", API_KEY_SECRET, API_KEY_SECRET_KEY, optional=False),
        # Only gated models need a token; the hfToken secret is optional in config.
        _secret_env("HF_TOKEN", HF_TOKEN_SECRET, HF_TOKEN_SECRET_KEY, optional=True),
        {"name": "HF_HOME", "value": HF_HOME},
        {"name": "HOME", "value": HOME_DIR},
        # getpass.getuser() (torch inductor, triton) fails for a UID without a passwd entry
        # unless USER is set.
        {"name": "USER", "value": "vllm"},
        {"name": "XDG_CACHE_HOME", "value": f"{HOME_DIR}/.cache"},
        {"name": "XDG_CONFIG_HOME", "value": f"{HOME_DIR}/.config"},
        {"name": "VLLM_CACHE_ROOT", "value": f"{HOME_DIR}/.cache/vllm"},
        {"name": "VLLM_CONFIG_ROOT", "value": f"{HOME_DIR}/.config/vllm"},
        {"name": "TRITON_CACHE_DIR", "value": f"{HOME_DIR}/.triton/cache"},
        {"name": "TORCHINDUCTOR_CACHE_DIR", "value": f"{TMP_DIR}/torchinductor"},
        {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
        {"name": "DO_NOT_TRACK", "value": "1"},
    ]
    if model.accelerator == "cpu":
        env += [
            {"name": "VLLM_CPU_KVCACHE_SPACE", "value": str(model.cpu_kv_cache_space_gi)},
            # Binding OpenMP threads to cores calls mbind/set_mempolicy, which the
            # RuntimeDefault seccomp profile denies without CAP_SYS_NICE; we keep the pod
            # unprivileged and let the kernel schedule the threads instead.
            {"name": "VLLM_CPU_OMP_THREADS_BIND", "value": "nobind"},
        ]
    return env
