"""``timing``: the assumptions behind ``ops plan``'s time-to-ready estimates, and the pre-puller.

Each default is a published figure (Akamai's Block Storage and Object Storage limits, a
measured Hub download, measured vLLM compile and CUDA-graph times; docs/time-to-ready.md
"Where the defaults come from" cites each) or, where none exists, a labelled assumption. None is
a measurement of your cluster: replace each with what you measure (docs/time-to-ready.md).
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

    small: float = Field(default=110, gt=0, le=3600, description="models under 15B parameters")
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
        default=500,
        gt=0,
        le=10_000,
        description=(
            "Hugging Face Hub -> node, MB/s (a reported hf_transfer download; the weight "
            "volume's write rate bounds it; measure with the fetch-weights init container's log)"
        ),
    )
    volume_write_mb_per_s: float = Field(
        default=350,
        gt=0,
        le=50_000,
        description=(
            "what the weight volume sustains while the download writes it, MB/s (Akamai Block "
            "Storage NVMe: 350 MB/s sustained, 525 MB/s in 60 s bursts)"
        ),
    )
    object_storage_mb_per_s: float = Field(
        default=1000,
        gt=0,
        le=50_000,
        description=(
            "Object Storage -> one replica through the Run:ai streamer, MB/s (assumption: "
            "~8 Gbit/s; measure with vLLM's 'Loading weights took' line)"
        ),
    )
    object_storage_connection_limit: int = Field(
        default=750,
        ge=1,
        le=100_000,
        description=(
            "connections per account per Object Storage endpoint (Akamai: 750 on E0/E1 "
            "endpoints, 2000 on E2/E3); the streamer's connections of all ranks starting at "
            "once must stay below it"
        ),
    )
    rollback_switch_seconds: float = Field(
        default=10,
        gt=0,
        le=600,
        description=(
            "a rollback inside a keepPrevious window: the registry flip and the Service's "
            "selector patch (docs/benchmarks.md measures the registry flip)"
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
        default=350,
        gt=0,
        le=50_000,
        description=(
            "weight volume -> GPU load rate, MB/s, shared by the replica's ranks (Akamai Block "
            "Storage NVMe: 350 MB/s sustained; measure with vLLM's 'Loading weights took' line)"
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
