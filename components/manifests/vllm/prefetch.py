"""The ``fetch-weights`` init container: the model revision onto the cache volume before vLLM.

Why: vLLM downloads missing weights itself, inside the startup probe's budget; a 70B revision
(~141 GB) then competes with loading and compiling for the same clock, and a slow download
gets the pod killed. The init container runs first, from the server's own (pinned) image, with
the same cache volume, environment and restricted security context, and only downloads:

- ``huggingface_hub.snapshot_download`` of the pinned revision into ``$HF_HOME/hub``, where
  vLLM looks (no ``--download-dir``). Complete files are skipped, so a container restart (it
  exits on a network error; the kubelet reruns it with back-off) continues with the missing
  shards; a partly downloaded shard resumes over HTTP and may restart from zero over Xet
  (huggingface/huggingface_hub#4196), which loses at most one shard (a few GB). An init
  container has no probe and no deadline: a slow download neither kills the pod nor counts
  against readiness.
- the same weight format vLLM's default loader would pick: ``*.safetensors`` when the
  revision has any at its top level, else ``*.bin``, else ``*.pt`` (vllm v0.11.0
  vllm/model_executor/model_loader/default_loader.py:88-106 and weight_utils.py:371-386), and
  never ``original/**/*`` (vllm/config/load.py:108-113, the duplicate Llama checkpoints; as
  fnmatch needs a second ``/`` for that pattern, ``original/*`` and ``*.pth`` are ignored too).
- Hugging Face's fast transfer where the image has it: ``HF_HUB_ENABLE_HF_TRANSFER=1`` only
  when ``hf_transfer`` is importable (set before huggingface_hub is imported, which reads it
  at import); newer huggingface_hub releases download through Xet instead and ignore it.
- the token as a Secret reference (optional: only gated models need one).
- a marker per pinned revision (a 40-hex commit;
  ``$HF_HOME/vllm-platform-fetched/<org>--<name>@<revision>``), written only after
  ``snapshot_download`` returned (a branch such as ``main`` moves, so it gets none): with it,
  a restart or rollback to that revision starts without asking the Hub anything (the Hub may
  be down or rate-limited; listing the repository's files has no offline fallback), and
  without it a half-finished download goes on.

The server then starts with ``HF_HUB_OFFLINE=1``: vLLM passes ``local_files_only`` to every hub
call (vllm/model_executor/model_loader/weight_utils.py:370, vllm/transformers_utils/
config.py:111), so nothing downloads inside the startup budget and a missing file fails fast.
Models whose extraArgs make vLLM read other repositories (``PREFETCH_BLOCKING_FLAGS``) are not
prefetched and stay online, as before.
"""

from __future__ import annotations

from typing import Final

from components.config import ModelConfig
from components.manifests.toolkit import Manifest, read_asset
from components.manifests.vllm.args import HOME_DIR, cache_env, hf_token_env
from components.planning.timing import prefetches_weights

FETCH_CONTAINER: Final = "fetch-weights"

FETCH_SCRIPT: Final = read_asset("fetch_weights.py")


def offline_env(model: ModelConfig) -> list[Manifest]:
    """``HF_HUB_OFFLINE=1`` for the server when its weights were prefetched."""
    return [{"name": "HF_HUB_OFFLINE", "value": "1"}] if prefetches_weights(model) else []


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
