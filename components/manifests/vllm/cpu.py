"""vLLM's CPU backend (``accelerator: cpu``): the pod's CPU request and the environment that
depends on it and on the image's vLLM version.

Threads are never bound to cores (the pod stays unprivileged), spelt per version in
``VLLM_CPU_OMP_THREADS_BIND``, and ``OMP_NUM_THREADS`` is the CPU request in whole cores.
Why, with vLLM's sources: docs/vllm-contract.md, "Version-specific settings".
"""

from __future__ import annotations

import math
from typing import Final

from components.config import ModelConfig
from components.config.quantity import parse_quantity
from components.manifests.toolkit import Manifest
from components.vllm_contract import image_version, version_key

__all__ = ["DEFAULT_CPU_REQUEST", "cpu_env", "cpu_request", "omp_threads", "threads_bind"]

# CPUs a CPU-mode replica requests when resources.cpu is not set.
DEFAULT_CPU_REQUEST: Final = "4"
# The first release whose CPU worker knows ``nobind`` (docs/vllm-contract.md, "Version-specific
# settings").
NOBIND_SINCE: Final = (0, 11, 1)


def cpu_request(model: ModelConfig) -> str:
    """The vLLM container's CPU request in CPU mode."""
    return model.resources.cpu or DEFAULT_CPU_REQUEST


def omp_threads(model: ModelConfig) -> int:
    """OpenMP threads: the CPU request in whole cores, at least one."""
    return max(1, math.floor(parse_quantity(cpu_request(model))))


def threads_bind(image: str) -> str:
    """``VLLM_CPU_OMP_THREADS_BIND`` that means "no binding" to the image's vLLM version; an
    image whose tag names no version is taken as current (staging and production refuse it)."""
    version = image_version(image)
    if version is not None and version_key(version) < NOBIND_SINCE:
        return "all"
    return "nobind"


def cpu_env(model: ModelConfig) -> list[Manifest]:
    """The server's environment for vLLM's CPU backend."""
    return [
        {"name": "VLLM_CPU_KVCACHE_SPACE", "value": str(model.cpu_kv_cache_space_gi)},
        {"name": "VLLM_CPU_OMP_THREADS_BIND", "value": threads_bind(model.image)},
        {"name": "OMP_NUM_THREADS", "value": str(omp_threads(model))},
    ]
