"""Pure time-to-ready estimates per model (cold start, warm restart, rollback) from the
``timing`` config's assumptions, printed by ``ops plan`` against the targets SC-001 and SC-004.
The phases and formulas: docs/time-to-ready.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from components.config import ModelConfig, TimingConfig
from components.config.pinning import OTHER_SOURCE_FLAGS
from components.planning.checkpoints import reads_per_replica_gb, stored_checkpoint_gb

COLD_START_TARGET_SECONDS: Final = 10 * 60  # SC-001
ROLLBACK_TARGET_SECONDS: Final = 5 * 60  # SC-004

# The Pulumi wait allows this many times the estimated download, and at least the floor.
_DOWNLOAD_BUDGET_FACTOR: Final = 3
_DOWNLOAD_BUDGET_FLOOR_SECONDS: Final = 10 * 60


def size_class(parameters_billions: float) -> str:
    """small < 15B <= medium < 40B <= large (the keys of the timing size-class tables)."""
    if parameters_billions < 15:
        return "small"
    return "medium" if parameters_billions < 40 else "large"


def checkpoint_gb(model: ModelConfig) -> float:
    """GB the revision's weights download: what the checkpoint stores
    (``checkpoints.stored_checkpoint_gb``)."""
    return stored_checkpoint_gb(model)


def download_mb_per_s(timing: TimingConfig) -> float:
    """The Hub's rate into the weight volume: whichever of the two is slower."""
    return min(timing.download_mb_per_s, timing.volume_write_mb_per_s)


def prefetches_weights(model: ModelConfig) -> bool:
    """Whether the fetch-weights init container downloads the revision before vLLM starts."""
    # Resolved as vLLM would: --tokenizer_revision, --load=... and abbreviations count too.
    return all(model.extra_arg(flag) is None for flag in OTHER_SOURCE_FLAGS)


@dataclass(frozen=True, slots=True)
class ModelTiming:
    """Seconds per phase of one pod, and the totals the plan prints."""

    name: str
    replicas: int
    scheduling: float
    image_pull: float
    download: float
    load: float
    cold_compile: float
    warm_compile: float
    prefetch: bool  # the download runs in the init container, outside the startup probe
    cache_persists: bool  # weights and compile caches survive a pod's replacement
    image_pre_pulled: bool
    keep_previous: bool = False  # the previous revision keeps serving: rollback is a switch
    switch: float = 0.0  # seconds of that switch
    all_at_once: bool = False  # rollout.restart allAtOnce: every replica at once (downtime)

    @property
    def cold_start(self) -> float:
        return self.scheduling + self.image_pull + self.download + self.load + self.cold_compile

    @property
    def warm_restart(self) -> float:
        if not self.cache_persists:
            return self.scheduling + self.download + self.load + self.cold_compile
        return self.scheduling + self.load + self.warm_compile

    @property
    def rollback_per_pod(self) -> float:
        return self.warm_restart + (0.0 if self.image_pre_pulled else self.image_pull)

    @property
    def rollback(self) -> float:
        """The switch inside a keepPrevious window; else one pod's restart when every replica
        restarts at once (all of them down meanwhile), else one after the other."""
        if self.keep_previous:
            return self.switch
        if self.all_at_once:
            return self.rollback_per_pod
        return self.replicas * self.rollback_per_pod

    @property
    def startup_probe_covers(self) -> float:
        """What the startup probe must allow on a cold start (the download if not prefetched)."""
        return self.load + self.cold_compile + (0.0 if self.prefetch else self.download)


def _seconds_for(gb: float, mb_per_s: float) -> float:
    return gb * 1000 / mb_per_s


def estimate_model(timing: TimingConfig, model: ModelConfig) -> ModelTiming:
    """Per phase, from the bytes the revision really stores and each rank really reads
    (``checkpoints``): the Hub's download is bounded by the volume's write rate; the ranks of a
    replica share the volume's read rate; streaming from Object Storage downloads nothing per
    pod (a staging Job copied the revision once) and reads at the streamer's rate."""
    size = size_class(model.parameters_billions)
    streamed = model.streams_weights
    reads = reads_per_replica_gb(model)
    return ModelTiming(
        name=model.name,
        replicas=model.replicas,
        scheduling=timing.scheduling_seconds,
        image_pull=_seconds_for(timing.image_size_gb, timing.image_pull_mb_per_s),
        download=0.0 if streamed else _seconds_for(checkpoint_gb(model), download_mb_per_s(timing)),
        load=_seconds_for(
            reads, timing.object_storage_mb_per_s if streamed else timing.volume_read_mb_per_s
        ),
        cold_compile=getattr(timing.cold_compile_seconds, size),
        warm_compile=getattr(timing.warm_compile_seconds, size),
        prefetch=streamed or prefetches_weights(model),
        cache_persists=streamed or model.weight_cache.mode != "none",
        image_pre_pulled=timing.pre_pull_images and model.accelerator == "gpu",
        keep_previous=model.rollout.keep_previous > 0,
        switch=timing.rollback_switch_seconds,
        all_at_once=model.rollout.all_at_once,
    )


def download_budget_seconds(timing: TimingConfig, model: ModelConfig) -> int:
    """What the rollout wait allows the fetch-weights init container (0 when not prefetching):
    three times the estimated download, at least ten minutes."""
    if not prefetches_weights(model) or model.streams_weights:
        return 0
    estimate = _seconds_for(checkpoint_gb(model), download_mb_per_s(timing))
    return max(_DOWNLOAD_BUDGET_FLOOR_SECONDS, math.ceil(estimate * _DOWNLOAD_BUDGET_FACTOR))


def stage_seconds(timing: TimingConfig, model: ModelConfig) -> float:
    """The staging Job's copy of a streamed model's revision into the bucket: the checkpoint's
    download from the Hub plus its upload, each at the Hub's rate into a volume."""
    return 2 * _seconds_for(checkpoint_gb(model), download_mb_per_s(timing))


def stage_budget_seconds(timing: TimingConfig, model: ModelConfig) -> int:
    """What the staging Job of a streamed model may take (its ``activeDeadlineSeconds``): three
    times ``stage_seconds``, at least ten minutes."""
    estimate = stage_seconds(timing, model)
    return max(_DOWNLOAD_BUDGET_FLOOR_SECONDS, math.ceil(estimate * _DOWNLOAD_BUDGET_FACTOR))


def image_pull_budget_seconds(timing: TimingConfig) -> int:
    """What the rollout wait allows a node to pull the image: three times the estimate, at
    least ten minutes (the image pre-puller's Pulumi timeouts)."""
    estimate = _seconds_for(timing.image_size_gb, timing.image_pull_mb_per_s)
    return max(_DOWNLOAD_BUDGET_FLOOR_SECONDS, math.ceil(estimate * _DOWNLOAD_BUDGET_FACTOR))


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def held_to_targets(model: ModelConfig) -> bool:
    """SC-001 and SC-004 are the GPU fleet's targets; a CPU model (a local trial on a laptop
    cluster, ``accelerator: cpu``) is not held to them."""
    return model.accelerator == "gpu"


def timing_warnings(model: ModelConfig, t: ModelTiming) -> list[str]:
    """What the plan cautions about for one model's estimates."""
    out: list[str] = []
    budget = model.startup_timeout_minutes * 60
    if budget < t.startup_probe_covers:
        what = "load + compile" if t.prefetch else "download + load + compile"
        out.append(
            f"{model.name}: startupTimeoutMinutes {model.startup_timeout_minutes} is below the "
            f"estimated {what} ({_minutes(t.startup_probe_covers)}); the startup probe would "
            "restart the pod before it is ready"
        )
    if t.rollback > ROLLBACK_TARGET_SECONDS and held_to_targets(model):
        if not t.all_at_once:
            how = f"{t.replicas} x {_minutes(t.rollback_per_pod)}"
        else:
            how = "its only replica" if t.replicas == 1 else f"all {t.replicas} replicas at once"
            how += ", downtime"
        out.append(
            f"{model.name}: estimated rollback {_minutes(t.rollback)} ({how}) misses the "
            f"{_minutes(ROLLBACK_TARGET_SECONDS)} target (SC-004)"
            + ("; weightCache.mode none keeps nothing across pods" if not t.cache_persists else "")
        )
    if t.cold_start > COLD_START_TARGET_SECONDS and held_to_targets(model):
        out.append(
            f"{model.name}: estimated cold start {_minutes(t.cold_start)} misses the "
            f"{_minutes(COLD_START_TARGET_SECONDS)} target (SC-001); a warm restart "
            f"({_minutes(t.warm_restart)}) is what updates and restarts take once cached"
        )
    if not t.prefetch:
        out.append(
            f"{model.name}: extraArgs set one of {', '.join(sorted(OTHER_SOURCE_FLAGS))}, "
            "so the weights are not prefetched: vLLM downloads them inside the startup budget"
        )
    return out
