"""Pure estimate of how long a change to one model takes until every replica serves again.

Built on the per-phase figures of ``timing.estimate_model``. A rolling update takes the replicas
times one pod's restart (one with ``rollout.restart: allAtOnce``), and a restart costs by what
changed: a new revision or model id downloads again and compiles cold; a new image is pulled
(unless pre-pulled) and compiles cold; another vLLM argument compiles cold; anything else is a
warm restart. A workload replaced delete-first restarts every pod at once, each downloading
again; new models or replicas start cold, in parallel. A streamed revision the bucket does not
hold yet is first copied there by the staging Job.
"""

from __future__ import annotations

from components.config import ModelConfig, TimingConfig
from components.planning.timing import ModelTiming, estimate_model, stage_seconds

WEIGHT_KEYS = frozenset({"hfModelId", "revision"})
COMPILE_KEYS = frozenset(
    {"image", "extraArgs", "maxModelLen", "gpuMemoryUtilization", "gpusPerReplica"}
)


def restart_seconds(t: ModelTiming, keys: frozenset[str]) -> float:
    """One pod's restart after a change of ``keys`` (stack-file keys of the model)."""
    if not t.cache_persists:
        return t.warm_restart  # nothing survives a pod: a cold start without the image pull
    image = t.image_pull if "image" in keys and not t.image_pre_pulled else 0.0
    if keys & WEIGHT_KEYS:
        return t.scheduling + image + t.download + t.load + t.cold_compile
    if keys & COMPILE_KEYS:
        return t.scheduling + image + t.load + t.cold_compile
    return t.warm_restart


def change_seconds(
    timing: TimingConfig,
    new: ModelConfig,
    *,
    keys: frozenset[str] = frozenset(),
    added: bool = False,
    replaced: bool = False,
    restarts: bool = False,
    new_replicas: int = 0,
    staged: bool = False,
) -> float:
    """Until every replica of ``new`` serves after the change: ``added`` (or renamed) starts
    cold; ``replaced`` (delete-first) restarts every pod at once with a fresh volume;
    ``restarts`` replaces the pods one at a time (all at once with ``rollout.restart``
    allAtOnce); ``new_replicas`` more pods start cold. ``staged``: the staging Job first copies
    the revision into the bucket (a streamed revision the bucket does not hold yet): no server
    changes before it completed."""
    first = stage_seconds(timing, new) if staged else 0.0
    t = estimate_model(timing, new)
    if added:
        return first + t.cold_start
    pulled = 0.0 if t.image_pre_pulled else t.image_pull
    if replaced:
        return first + t.scheduling + pulled + t.download + t.load + t.cold_compile
    pods = 1 if new.rollout.all_at_once else new.replicas  # rollout.restart: all at once
    seconds = pods * restart_seconds(t, keys) if restarts else 0.0
    if new_replicas > 0:
        seconds = max(seconds, t.scheduling + pulled + t.download + t.load + t.cold_compile)
    return first + seconds
