"""The vLLM server's command line and environment, from the model's config.

The image's entrypoint is ``vllm serve``; we set ``command`` explicitly anyway so the arguments
do not depend on which entrypoint a given image tag declares, and pass the model as the
positional argument (``--model`` is deprecated for ``vllm serve``).
"""

from __future__ import annotations

from components.config import ModelConfig
from components.config.lora import LoraAdapter
from components.contract import VLLM_LOOPBACK_PORT
from components.manifests.toolkit import (
    API_KEY_SECRET,
    API_KEY_SECRET_KEY,
    HF_TOKEN_SECRET,
    HF_TOKEN_SECRET_KEY,
    Manifest,
)
from components.manifests.vllm.cpu import cpu_env

SERVER_COMMAND = ["vllm", "serve"]

# Writable locations (the root filesystem is read-only; each is a volume, see workload.py).
CACHE_MOUNT = "/var/cache/vllm-platform"  # the weight cache volume
HF_HOME = f"{CACHE_MOUNT}/huggingface"
# Compiled artefacts vLLM and its kernels reuse across starts, on the same volume.
KERNEL_CACHE_DIR = f"{CACHE_MOUNT}/cache"
# LoRA adapters, one directory per adapter and revision, fetched by the init container.
LORA_DIR = f"{CACHE_MOUNT}/lora"
HOME_DIR = "/home/vllm"  # an emptyDir: nothing here is worth keeping
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
        # The pod's loopback: the route allowlist (allowlist.py) is the only way in.
        "--host",
        "127.0.0.1",
        "--port",
        str(VLLM_LOOPBACK_PORT),
        "--tensor-parallel-size",
        str(tensor_parallel_size(model)),
        "--max-model-len",
        str(model.max_model_len),
    ]
    if model.accelerator == "gpu":
        # The CPU backend sizes its KV cache from VLLM_CPU_KVCACHE_SPACE instead.
        args += ["--gpu-memory-utilization", f"{model.gpu_memory_utilization:g}"]
    args += ["--revision", model.revision, *lora_args(model), *model.extra_args]
    return args


def lora_path(model: ModelConfig, adapter: LoraAdapter) -> str:
    """Where the init container puts an adapter and vLLM reads it: a local absolute path, which
    vLLM loads as it is, never asking the Hub (docs/vllm-contract.md, "LoRA adapters")."""
    return f"{LORA_DIR}/{model.name}/{adapter.name}/{adapter.revision}"


def lora_args(model: ModelConfig) -> list[str]:
    """``--enable-lora`` and the adapters, as every contract version spells them (managed
    flags, components/config/vllm_args.py); nothing without adapters."""
    if not model.lora_adapters:
        return []
    modules = [f"{a.name}={lora_path(model, a)}" for a in model.lora_adapters]
    return [
        "--enable-lora",
        "--max-loras",
        str(model.lora_slots),
        "--max-lora-rank",
        str(model.max_lora_rank),
        "--lora-modules",
        *modules,
    ]


def secret_env(name: str, secret: str, key: str, *, optional: bool) -> Manifest:
    ref: Manifest = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def hf_token_env(model: ModelConfig) -> Manifest:
    """HF_TOKEN from the hf-token Secret: required for a gated model (the pod does not start
    without it instead of crash-looping on 401s), optional for the others."""
    return secret_env(
        "HF_TOKEN", HF_TOKEN_SECRET, HF_TOKEN_SECRET_KEY, optional=not model.needs_hf_token
    )


def cache_env() -> list[Manifest]:
    """Every cache vLLM 0.11.0 and its kernels reuse across starts, on the weight volume.

    The volume survives pod replacement in ``per-replica`` (the replica's own claim) and
    ``shared`` mode; in ``none`` mode it is an emptyDir, which survives only a container
    restart within the same pod. Sources (docs/time-to-ready.md, "Caches on the weight volume"):

    - ``HF_HOME``: the Hugging Face hub cache (``$HF_HOME/hub``), where vLLM finds the weights.
    - ``VLLM_CACHE_ROOT``: vLLM's torch.compile cache, ``$VLLM_CACHE_ROOT/torch_compile_cache``
      (vllm v0.11.0 vllm/envs.py:433-438, vllm/compilation/backends.py:526-530). While it
      compiles, vLLM points ``TORCHINDUCTOR_CACHE_DIR`` and ``TRITON_CACHE_DIR`` at
      ``inductor_cache``/``triton_cache`` inside that directory itself, overwriting ours
      (vllm/compilation/compiler_interface.py:274-279); ours cover kernels built outside it.
    - ``XDG_CACHE_HOME``: the default root of other caches (vllm/envs.py:210-214; torch's
      extensions).
    - ``FLASHINFER_WORKSPACE_BASE``: FlashInfer's JIT cache is ``<base>/.cache/flashinfer``
      (flashinfer-ai/flashinfer flashinfer/jit/env.py, 0.3.x, which vLLM 0.11.0 pins).
    - ``CUDA_CACHE_PATH``: the CUDA driver's JIT (PTX to SASS) cache, default
      ``~/.nv/ComputeCache`` (CUDA C++ Programming Guide, "CUDA Environment Variables").
    """
    return [
        {"name": "HF_HOME", "value": HF_HOME},
        {"name": "XDG_CACHE_HOME", "value": KERNEL_CACHE_DIR},
        {"name": "VLLM_CACHE_ROOT", "value": f"{KERNEL_CACHE_DIR}/vllm"},
        {"name": "TRITON_CACHE_DIR", "value": f"{KERNEL_CACHE_DIR}/triton"},
        {"name": "TORCHINDUCTOR_CACHE_DIR", "value": f"{KERNEL_CACHE_DIR}/torchinductor"},
        {"name": "FLASHINFER_WORKSPACE_BASE", "value": f"{KERNEL_CACHE_DIR}/flashinfer"},
        {"name": "CUDA_CACHE_PATH", "value": f"{KERNEL_CACHE_DIR}/nv-compute"},
    ]


def server_env(model: ModelConfig) -> list[Manifest]:
    """Environment of the server container: secrets by reference, writable cache paths."""
    env: list[Manifest] = [
        # vLLM requires `Authorization: Bearer <key>` on /v1/* when VLLM_API_KEY is set.
        secret_env("VLLM_API_KEY", API_KEY_SECRET, API_KEY_SECRET_KEY, optional=False),
        hf_token_env(model),
        *cache_env(),
        {"name": "HOME", "value": HOME_DIR},
        # getpass.getuser() (torch inductor, triton) fails for a UID without a passwd entry
        # unless USER is set.
        {"name": "USER", "value": "vllm"},
        {"name": "XDG_CONFIG_HOME", "value": f"{HOME_DIR}/.config"},
        {"name": "VLLM_CONFIG_ROOT", "value": f"{HOME_DIR}/.config/vllm"},
        {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
        {"name": "DO_NOT_TRACK", "value": "1"},
    ]
    if model.accelerator == "cpu":
        # No thread binding (seccomp), spelled for the image's vLLM version, and threads sized
        # to the pod's CPU request: components/manifests/vllm/cpu.py.
        env += cpu_env(model)
    return env
