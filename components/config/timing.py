"""``timing``: the assumptions behind ``ops plan``'s time-to-ready estimates, and the pre-puller.

Every figure is an assumption, not a measurement of your cluster: replace each with what you
measure (docs/time-to-ready.md). The defaults are deliberately round and on the slow side.
"""

from __future__ import annotations

from pydantic import Field

from components.config.base import ConfigModel


class SizeClassSeconds(ConfigModel):
    """Seconds per model size class: small < 15B parameters <= medium < 40B <= large."""

    small: float = Field(gt=0, le=3600, description="models under 15B parameters")
    medium: float = Field(gt=0, le=3600, description="models of 15B to under 40B parameters")
    large: float = Field(gt=0, le=3600, description="models of 40B parameters or more")


class ColdCompileSeconds(SizeClassSeconds):
    """Engine start with an empty compile cache, per size class (assumptions; measure them)."""

    small: float = Field(default=90, gt=0, le=3600, description="models under 15B parameters")
    medium: float = Field(
        default=150, gt=0, le=3600, description="models of 15B to under 40B parameters"
    )
    large: float = Field(default=240, gt=0, le=3600, description="models of 40B parameters or more")


class WarmCompileSeconds(SizeClassSeconds):
    """Engine start with the compile cache on the volume, per size class (assumptions)."""

    small: float = Field(default=30, gt=0, le=3600, description="models under 15B parameters")
    medium: float = Field(
        default=45, gt=0, le=3600, description="models of 15B to under 40B parameters"
    )
    large: float = Field(default=75, gt=0, le=3600, description="models of 40B parameters or more")


class TimingConfig(ConfigModel):
    """Bandwidths and durations the plan's cold-start, warm-restart and rollback figures use."""

    pre_pull_images: bool = Field(
        default=True,
        description="a DaemonSet that pulls the stack's vLLM images onto every GPU node",
    )
    download_mb_per_s: float = Field(
        default=100,
        gt=0,
        le=10_000,
        description=(
            "Hugging Face Hub -> node, MB/s (assumption: ~0.8 Gbit/s sustained; Xet/hf_transfer "
            "often do better; measure with the fetch-weights init container's log)"
        ),
    )
    image_pull_mb_per_s: float = Field(
        default=50,
        gt=0,
        le=10_000,
        description=(
            "registry -> node including decompression, MB/s (assumption; measure with the "
            "kubelet's 'Successfully pulled image ... in' event)"
        ),
    )
    image_size_gb: float = Field(
        default=10,
        gt=0,
        le=100,
        description=(
            "compressed size of the vLLM image, GB (vllm/vllm-openai v0.11.0 amd64 is several "
            "GB; measure with `docker manifest inspect -v` or `crane manifest`)"
        ),
    )
    volume_read_mb_per_s: float = Field(
        default=200,
        gt=0,
        le=50_000,
        description=(
            "weight volume -> GPU load rate, MB/s (assumption for network block storage; "
            "measure with vLLM's 'Loading weights took' log line)"
        ),
    )
    cold_compile_seconds: ColdCompileSeconds = Field(
        default_factory=ColdCompileSeconds,
        description=(
            "engine start with an empty compile cache: torch.compile, kernel JIT, CUDA graph "
            "capture, memory profiling (measure: vLLM's 'init engine ... took' log line)"
        ),
    )
    warm_compile_seconds: WarmCompileSeconds = Field(
        default_factory=WarmCompileSeconds,
        description=(
            "engine start with the compile cache on the volume (loads the compiled graphs; CUDA "
            "graph capture and memory profiling still run)"
        ),
    )
    scheduling_seconds: float = Field(
        default=30,
        ge=0,
        le=3600,
        description="scheduling, volume attach and container start per pod",
    )
