"""vLLM's CPU backend (``accelerator: cpu``): the pod's CPU request and the environment that
depends on it and on the image's vLLM version.

Thread binding. The platform never binds threads to cores: binding calls ``sched_setaffinity``
and ``set_mempolicy``/``mbind``, which the RuntimeDefault seccomp profile denies without
CAP_SYS_NICE, and the pod stays unprivileged. How to say "no binding" depends on the version:

- vLLM 0.11.0 knows only ``auto`` and ``all``: ``all`` skips ``init_cpu_threads_env``; any
  other value (``nobind`` too) is taken as a CPU list and handed to it, which crashes the
  engine at start (vllm/v1/worker/cpu_worker.py:38-66 at v0.11.0).
- vLLM 0.11.1 and later know ``nobind`` (vllm/v1/worker/cpu_worker.py:62-93 at v0.11.1 and
  v0.11.2; ``vllm/utils/ompmultiprocessing.py:122-124`` in 0.32.0), and treat ``all`` as a CPU
  list.

Thread count. Unbound, torch sizes its OpenMP pool to every core of the node, not to the pod's
CPU request: vLLM 0.11.0 copies ``torch.get_num_threads()`` into ``OMP_NUM_THREADS``
(vllm/platforms/cpu.py:243 at v0.11.0), and 0.11.1+ leave it to the user with ``nobind``
(vllm/platforms/cpu.py:277-283 at v0.11.2). In 0.32.0 the CPU worker turns
``torch.set_num_threads`` into a no-op once it starts (vllm/v1/worker/cpu_worker.py:139-145), so
vLLM's own cut to one thread for serving (vllm/utils/torch_utils.py:269-300) does not reach
it and the pool keeps every core. So ``OMP_NUM_THREADS`` is the CPU request, whole cores, at
least one; torch reads it when it loads (the live tier's log shows "OMP_NUM_THREADS=2 is set;
leaving Torch threads at 2").
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
# The first release whose CPU worker knows ``nobind`` (see the module docstring).
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
