"""``models[]``: one model, one VllmDeployment and one registry entry."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal, Self

from pydantic import Field, StringConstraints, ValidationInfo, model_validator
from pydantic.alias_generators import to_camel

from components.config.base import ConfigModel, path_error
from components.config.gpu_plans import GpuPlan
from components.config.lora import LoraAdapter, names_issue, rank_issue
from components.config.pinning import OTHER_SOURCE_FLAGS, pinned_issue, pinned_revision_issue
from components.config.readiness import Rollout, WeightSource
from components.config.types import (
    ContainerText,
    CpuQuantity,
    GpuCount,
    HfModelId,
    ImageRef,
    K8sName,
    MemoryQuantity,
    ModelName,
    ModelRevision,
    NamespaceName,
    Precision,
)
from components.config.vllm_args import extra_arg_values, extra_args_issue
from components.config.vllm_image import image_issue
from components.contract import PINNED_ENVIRONMENTS
from components.vllm_contract import load_contract, newest_version, version_for_image


class WeightCache(ConfigModel):
    """Where the Hugging Face cache (the weights) lives across restarts."""

    mode: Literal["per-replica", "shared", "none"] = Field(
        default="per-replica",
        description=(
            "per-replica: a StatefulSet with one block-storage volume per replica (default); "
            "shared: a Deployment sharing one ReadWriteMany volume; none: an emptyDir"
        ),
    )
    size_gi: int | None = Field(
        default=None,
        ge=1,
        le=10240,
        description="default: 2.2 x the checkpoint (room for a second revision), at least 20",
    )
    storage_class: K8sName = Field(
        default="linode-block-storage-retain",
        description="storage class of the weight cache volumes",
    )

    @model_validator(mode="after")
    def _shared_needs_rwx(self) -> Self:
        if self.mode == "shared" and self.storage_class.startswith("linode-block-storage"):
            raise path_error(
                "storageClass",
                "mode shared needs a ReadWriteMany storage class (e.g. an NFS or CephFS "
                f"class); {self.storage_class} is Linode block storage, ReadWriteOnce only",
            )
        return self


class Architecture(ConfigModel):
    """The model's attention shape, from its config.json, for models not in the catalog."""

    num_hidden_layers: int = Field(ge=1, le=1000, description="config.json num_hidden_layers")
    num_key_value_heads: int = Field(
        ge=1, le=1024, description="config.json num_key_value_heads (num_attention_heads if absent)"
    )
    head_dim: int = Field(
        ge=1, le=4096, description="config.json head_dim, else hidden_size / num_attention_heads"
    )
    hidden_size: int | None = Field(
        default=None, ge=1, le=1_000_000, description="config.json hidden_size (LoRA slot memory)"
    )
    intermediate_size: int | None = Field(
        default=None,
        ge=1,
        le=10_000_000,
        description="config.json intermediate_size (LoRA slot memory)",
    )


class Resources(ConfigModel):
    """CPU and memory requests of the vLLM container."""

    cpu: CpuQuantity | None = Field(default=None, description="CPU request (default by model size)")
    memory: MemoryQuantity | None = Field(
        default=None, description="memory request (default by size)"
    )


class Autoscaling(ConfigModel):
    """KEDA scaling on queued requests (vllm:num_requests_waiting)."""

    enabled: bool = Field(default=True, description="a KEDA ScaledObject for this model")
    min_replicas: int = Field(ge=1, description="fewest replicas KEDA keeps")
    max_replicas: int = Field(ge=1, description="most replicas; must fit the GPU budget")
    waiting_requests_target: int = Field(
        default=5, ge=1, description="queued requests per replica that trigger a scale-up"
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max_replicas < self.min_replicas:
            raise path_error("maxReplicas", "must be >= minReplicas")
        return self


class Ingress(ConfigModel):
    """Direct HTTPS access to /v1 through an Ingress with a cert-manager certificate."""

    host: Annotated[
        str,
        StringConstraints(pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$", max_length=253),
    ]
    cluster_issuer: K8sName = Field(
        default="letsencrypt", description="cert-manager ClusterIssuer for TLS"
    )
    class_name: K8sName = Field(default="nginx", description="IngressClass name")
    controller_namespace: NamespaceName = Field(
        default="ingress-nginx", description="namespace of the ingress controller's pods"
    )


# Hugging Face organisations whose repositories need an accepted licence and a token (gated
# repos answer 401/403 without one). A model of theirs defaults to gated: true; set
# ``gated: false`` for one of their open repos, or ``gated: true`` for any other gated repo.
GATED_ORGS: Final = ("meta-llama/", "google/gemma", "mistralai/", "CohereForAI/", "CohereLabs/")


class ModelConfig(ConfigModel):
    """One model: one VllmDeployment and one registry entry."""

    name: ModelName = Field(description="served model name and Kubernetes object name")
    hf_model_id: HfModelId = Field(description="Hugging Face model id, org/name")
    revision: ModelRevision = Field(
        description="model revision; staging/production: a 40-hex commit"
    )
    image: ImageRef = Field(
        description=(
            "vLLM image; staging/production: a release tag (no latest, nightly, main...) or a "
            "digest"
        )
    )
    replicas: int = Field(
        default=1, ge=1, le=64, description="production: >= 2 unless allowDowntime"
    )
    allow_downtime: bool = Field(
        default=False,
        description=(
            "accept downtime in production: a single replica, or rollout.restart allAtOnce"
        ),
    )
    gpus_per_replica: GpuCount = Field(
        default=1, description="tensor parallel size; at most the plan's GPUs per node"
    )
    max_model_len: int = Field(ge=128, le=1_048_576, description="--max-model-len")
    gpu_memory_utilization: float = Field(
        default=0.9, gt=0.1, le=0.98, description="--gpu-memory-utilization"
    )
    parameters_billions: float = Field(
        gt=0, le=2000, description="parameter count in billions (memory-fit check)"
    )
    precision: Precision = Field(
        default="bf16",
        description="precision of the weights while serving (--quantization fp8 serves fp8)",
    )
    checkpoint_precision: Precision | None = Field(
        default=None,
        description=(
            "dtype of the checkpoint files (config.json torch_dtype): memory at load and the "
            "weight cache; default: the architecture catalog's, else precision (required when "
            "extraArgs quantize with --quantization)"
        ),
    )
    architecture: Architecture | None = Field(
        default=None, description="attention shape for the KV-cache estimate (default: catalog)"
    )
    min_concurrent_sequences: int = Field(
        default=10, ge=1, le=100_000, description="sequences of maxModelLen one replica must hold"
    )
    typical_request_tokens: int = Field(
        default=2048, ge=16, le=1_048_576, description="request length the plan reports"
    )
    gated: bool | None = Field(
        default=None,
        description=(
            "the weights need a Hugging Face token (hfToken); default: true for meta-llama/*, "
            "google/gemma*, mistralai/*, CohereForAI/* and CohereLabs/*"
        ),
    )
    routing_enabled: bool = Field(
        default=True, description="the registry entry tells the API router to route to it"
    )
    extra_args: list[Annotated[ContainerText, StringConstraints(min_length=1)]] = Field(
        default_factory=list,
        description="more vLLM flags; may not set the ones the platform manages",
    )
    accelerator: Literal["gpu", "cpu"] = Field(
        default="gpu", description="cpu: the CPU image, no GPU requests (local clusters)"
    )
    cpu_kv_cache_space_gi: int = Field(
        default=4, ge=1, le=512, description="VLLM_CPU_KVCACHE_SPACE in CPU mode"
    )
    api: Literal["chat", "completions"] = Field(
        default="chat", description="chat for instruct models, completions for base models"
    )
    startup_timeout_minutes: int = Field(
        default=15,
        ge=5,
        le=180,
        description=(
            "startup probe budget for vLLM to load and compile the model; the download runs "
            "before it (fetch-weights init container) unless extraArgs prevent prefetching"
        ),
    )
    smoke_test_timeout_seconds: float = Field(
        default=3.0, gt=0, le=120, description="the smoke test's completion must answer within"
    )
    shm_size_gi: int = Field(
        default=16, ge=1, le=512, description="memory-backed /dev/shm when gpusPerReplica > 1"
    )
    lora_adapters: list[LoraAdapter] = Field(
        default_factory=list,
        description="LoRA adapters the replicas serve beside the base model, each by its name",
    )
    max_loras: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="--max-loras, adapters in one batch (GPU slots); default: every adapter",
    )
    max_lora_rank: int = Field(
        default=16,
        ge=1,
        le=512,
        description="--max-lora-rank, the largest adapter rank (vLLM's default 16); the "
        "adapters' adapter_config.json r must not exceed it",
    )
    weight_cache: WeightCache = Field(default_factory=WeightCache)
    weight_source: WeightSource = Field(default_factory=WeightSource)
    rollout: Rollout = Field(default_factory=Rollout)
    resources: Resources = Field(default_factory=Resources)
    autoscaling: Autoscaling | None = None
    ingress: Ingress | None = None

    @model_validator(mode="after")
    def _extra_args_as_vllm_reads_them(self) -> Self:
        if not self.extra_args:
            return self
        found = extra_args_issue(self.extra_args, load_contract(self.vllm_contract_version))
        if found is not None:
            index, message = found
            raise path_error(f"extraArgs[{index}]", message)
        return self

    @model_validator(mode="after")
    def _lora_as_vllm_takes_it(self, info: ValidationInfo) -> Self:
        if not self.lora_adapters:
            for field in ("max_loras", "max_lora_rank"):
                if field in self.model_fields_set:
                    raise path_error(
                        to_camel(field), "only with loraAdapters (no adapter to serve)"
                    )
            return self
        found = names_issue(self.name, self.lora_adapters)
        if found is not None:
            raise path_error(*found)
        rank = rank_issue(self.max_lora_rank, load_contract(self.vllm_contract_version))
        if rank is not None:
            raise path_error("maxLoraRank", rank)
        unfetched = next((f for f in OTHER_SOURCE_FLAGS if self.extra_arg(f) is not None), None)
        if unfetched is not None:
            raise path_error(
                "loraAdapters",
                f"adapters are served only from what the fetch-weights init container fetched, "
                f"and extraArgs {unfetched} turn it off (components/planning/timing.py)",
            )
        env = (info.context or {}).get("environment")
        for i, adapter in enumerate(self.lora_adapters):
            moving = pinned_revision_issue(env, adapter.revision)
            if moving is not None:
                raise path_error(f"loraAdapters[{i}].revision", moving)
        return self

    @model_validator(mode="after")
    def _streams_only_the_staged_revision(self) -> Self:
        """A streamed model reads what the staging Job copied, with the platform's
        --load-format; nothing the init container would have fetched besides."""
        if not self.streams_weights:
            return self
        if self.lora_adapters:
            raise path_error(
                "weightSource.kind",
                "objectStorage with loraAdapters: adapters come from the fetch-weights init "
                "container, which a model streaming from the bucket does not run",
            )
        other = next((f for f in OTHER_SOURCE_FLAGS if self.extra_arg(f) is not None), None)
        if other is not None:
            raise path_error(
                "weightSource.kind",
                f"objectStorage streams the staged revision (--load-format runai_streamer is "
                f"the platform's); extraArgs {other} would read {OTHER_SOURCE_FLAGS[other]}",
            )
        return self

    @property
    def streams_weights(self) -> bool:
        """Whether the replicas stream their weights from the stack's Object Storage bucket
        (``weightSource.kind: objectStorage``) instead of fetching them from the Hub."""
        return self.weight_source.kind == "objectStorage"

    @property
    def lora_slots(self) -> int:
        """--max-loras: ``maxLoras``, else one slot per adapter (0 without adapters)."""
        if not self.lora_adapters:
            return 0
        return self.max_loras if self.max_loras is not None else len(self.lora_adapters)

    @model_validator(mode="after")
    def _against_environment_and_pool(self, info: ValidationInfo) -> Self:
        ctx: Mapping[str, Any] = info.context or {}
        env = ctx.get("environment")
        plan: GpuPlan | None = ctx.get("plan")
        if env in PINNED_ENVIRONMENTS:
            contract = load_contract(self.vllm_contract_version)
            moving = pinned_issue(env, self.image, self.revision, self.extra_args, contract)
            if moving is not None:
                raise path_error(*moving)
            if (issue := image_issue(self.image, env)) is not None:
                raise path_error("image", issue)
        if env == "production" and self.replicas < 2 and not self.allow_downtime:
            raise path_error(
                "replicas",
                "production needs replicas >= 2 so an update or node loss keeps the model "
                "serving; set allowDowntime: true to accept a single replica",
            )
        if env == "production" and self.rollout.all_at_once and not self.allow_downtime:
            raise path_error(
                "rollout.restart",
                "allAtOnce takes every replica down during each rollout and rollback "
                "(downtime); set allowDowntime: true to accept it in production",
            )
        if self.autoscaling is not None and not (
            self.autoscaling.min_replicas <= self.replicas <= self.autoscaling.max_replicas
        ):
            raise path_error("replicas", "must be within autoscaling.minReplicas..maxReplicas")
        if self.accelerator == "cpu" and re.match(
            r"^(docker\.io/)?vllm/vllm-openai[:@]", self.image
        ):
            raise path_error(
                "image",
                "accelerator cpu needs the CPU image (vllm/vllm-openai-cpu), not the CUDA one",
            )
        if self.accelerator == "cpu":
            if self.gpus_per_replica != 1:
                raise path_error("gpusPerReplica", "must be 1 (unused) when accelerator is cpu")
            return self
        if plan is None:
            return self
        if self.gpus_per_replica > plan.gpus_per_node:
            raise path_error(
                "gpusPerReplica",
                f"{self.gpus_per_replica} GPUs per replica but {plan.plan_id} nodes have "
                f"{plan.gpus_per_node}; a replica cannot span nodes",
            )
        return self

    @model_validator(mode="after")
    def _previous_is_another_pinned_revision(self, info: ValidationInfo) -> Self:
        kept = self.rollout.previous
        if kept is None:
            return self
        if (kept.image, kept.revision) == (self.image, self.revision):
            raise path_error(
                "rollout.previous", "is the revision being served; name the one it replaces"
            )
        env = (info.context or {}).get("environment")
        if env in PINNED_ENVIRONMENTS:
            contract = load_contract(self.vllm_contract_version)
            moving = pinned_issue(env, kept.image, kept.revision, (), contract)
            if moving is not None:
                raise path_error(f"rollout.previous.{moving[0]}", moving[1])
            if (issue := image_issue(kept.image, env)) is not None:
                raise path_error("rollout.previous.image", issue)
        return self

    def extra_arg(self, flag: str, *aliases: str) -> str | None:
        """The value extraArgs give ``flag`` however it is spelled (an abbreviation, ``_`` for
        ``-``, ``--flag=value``; the last one wins, as in argparse), resolved by the pinned
        vLLM's parser contract; ``""`` for a flag without a value, None when not given.
        ``aliases`` are accepted for readability; they resolve to the same option."""
        contract = load_contract(self.vllm_contract_version)
        values = extra_arg_values(self.extra_args, contract)
        for name in (flag, *aliases):
            option = contract.resolve(name).option
            if option is not None and option.dest in values:
                return values[option.dest]
        return None

    @property
    def needs_hf_token(self) -> bool:
        if self.gated is not None:
            return self.gated
        return self.hf_model_id.startswith(GATED_ORGS)

    @property
    def vllm_contract_version(self) -> str:
        """The vLLM contract the model is judged by: the image tag's version when there is data
        for it, else (development only; components/config/vllm_image.py) the newest."""
        return version_for_image(self.image) or newest_version()

    @property
    def active_autoscaling(self) -> Autoscaling | None:
        """``autoscaling`` when KEDA owns the replica count (set and enabled), else None."""
        auto = self.autoscaling
        return auto if auto is not None and auto.enabled else None

    @property
    def autoscaled(self) -> bool:
        return self.active_autoscaling is not None

    @property
    def uses_statefulset(self) -> bool:
        """Per-replica weight caches need a StatefulSet (one claim per replica); the other modes
        run as a Deployment. Linode block storage is ReadWriteOnce, so it cannot be shared."""
        return self.weight_cache.mode == "per-replica"

    @property
    def supports_surge(self) -> bool:
        """A StatefulSet replaces its pods in place (no surge); a Deployment can surge."""
        return not self.uses_statefulset

    @property
    def gpus_total(self) -> int:
        return 0 if self.accelerator == "cpu" else self.replicas * self.gpus_per_replica
