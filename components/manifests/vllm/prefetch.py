"""The ``fetch-weights`` init container: the model revision onto the cache volume before vLLM
starts, so no download runs inside the startup probe's budget; the server then runs with
``HF_HUB_OFFLINE=1``. The script is ``assets/fetch_weights.py``; what it downloads and why
(vLLM's own format choice, resuming, the per-revision marker): docs/time-to-ready.md.
"""

from __future__ import annotations

import json
from typing import Final

from components.config import ModelConfig
from components.manifests.toolkit import Manifest, read_asset
from components.manifests.vllm.args import HOME_DIR, cache_env, hf_token_env, lora_path
from components.planning.timing import prefetches_weights

FETCH_CONTAINER: Final = "fetch-weights"

FETCH_SCRIPT: Final = read_asset("fetch_weights.py")


def offline_env(model: ModelConfig) -> list[Manifest]:
    """``HF_HUB_OFFLINE=1`` for the server when its weights were prefetched."""
    return [{"name": "HF_HUB_OFFLINE", "value": "1"}] if prefetches_weights(model) else []


def lora_env(model: ModelConfig) -> list[Manifest]:
    """``LORA_ADAPTERS``: each adapter's repository, revision and directory, as JSON data."""
    if not model.lora_adapters:
        return []
    adapters = [
        {"repo": a.hf_repo, "revision": a.revision, "path": lora_path(model, a)}
        for a in model.lora_adapters
    ]
    return [{"name": "LORA_ADAPTERS", "value": json.dumps(adapters)}]


def fetch_container(
    model: ModelConfig, mounts: list[Manifest], security_context: Manifest
) -> Manifest | None:
    """The init container (``None`` when the model is not prefetched)."""
    if not prefetches_weights(model):
        return None
    return {
        "name": FETCH_CONTAINER,
        "image": model.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python3", "-c", FETCH_SCRIPT],
        # Data, not code: the repository and revision reach the script as variables.
        "env": [
            {"name": "MODEL_ID", "value": model.hf_model_id},
            {"name": "MODEL_REVISION", "value": model.revision},
            *lora_env(model),
            hf_token_env(model),
            *cache_env(),
            {"name": "HOME", "value": HOME_DIR},
            {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"},
            # It needs no GPU; see components/manifests/prepull.py on NVIDIA's runtime.
            {"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"},
        ],
        # Far below the server's; the pod's request is the larger of the two, so this adds
        # nothing to what the scheduler reserves.
        "resources": {
            "requests": {"cpu": "1", "memory": "2Gi"},
            "limits": {"memory": "4Gi"},
        },
        "volumeMounts": mounts,
        "securityContext": security_context,
    }
