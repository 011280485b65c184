"""Stack configuration: one frozen, validated ``StackConfig`` per stack.

Read from the ``vllm-platform:*`` keys of ``Pulumi.<stack>.yaml`` (offline, by ``ops``) or of the
running stack (by ``__main__.py``). Keys are camelCase as Pulumi users write them; every error
names the key path as written in the stack file (``models[1].image: ...``) and all field errors
are reported at once, before any resource is registered.

Secrets never live in this model: the five secret keys (``SECRET_KEYS``) are only checked for
presence and for being Pulumi secrets; their values are read as secret Outputs by the program.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from components.capacity import Precision, fit_memory, suggest_fixes
from components.gpu_catalog import GPU_PLANS, GpuPlan, UnknownPlanError

__all__ = [
    "MANAGED_VLLM_FLAGS",
    "PROJECT",
    "SECRET_KEYS",
    "ConfigError",
    "ConfigIssue",
    "LoadedStack",
    "ModelConfig",
    "StackConfig",
    "endpoint_url",
    "load_stack_config",
]

PROJECT = "vllm-platform"
VLLM_PORT = 8000

Environment = Literal["development", "staging", "production"]

# Secret config keys: (required, what it is for). Set with `pulumi config set --secret KEY`.
SECRET_KEYS: dict[str, tuple[bool, str]] = {
    "hfToken": (False, "Hugging Face token (needed for gated models)"),
    "vllmApiKey": (True, "API key vLLM requires on /v1 requests"),
    "registryPassword": (True, "password of the registry owner user (runs migrations)"),
    "registryWriterPassword": (True, "password of the registry writer role (this program)"),
    "registryReaderPassword": (True, "password of the registry reader role (the API router)"),
}
_SECRETISH = re.compile(r"(password|passwd|token|secret|api[-_]?key|credential)", re.I)

# Flags the platform sets itself; extraArgs may not set them (vLLM accepts `_` for `-`).
MANAGED_VLLM_FLAGS: frozenset[str] = frozenset(
    {
        "--model",
        "--served-model-name",
        "--host",
        "--port",
        "--tensor-parallel-size",
        "-tp",
        "--pipeline-parallel-size",
        "-pp",
        "--data-parallel-size",
        "-dp",
        "--max-model-len",
        "--gpu-memory-utilization",
        "--revision",
        "--api-key",
        "--download-dir",
        "--hf-token",
        "--device",
        "--uvicorn-log-level",
        "--disable-log-requests",
        "--enable-log-requests",
    }
)

# A DNS-1035 label (Service names must start with a letter). 40 characters leaves room for the
# longest derived object name, the smoke-test Job `<name>-smoke-<8 hex>`, in a 63-character label.
MAX_MODEL_NAME = 40
_DNS_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
ModelName = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_MODEL_NAME, pattern=_DNS_LABEL)
]
NamespaceName = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=_DNS_LABEL)]
LabelMap = dict[
    Annotated[
        str,
        StringConstraints(
            max_length=253,
            pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$",
        ),
    ],
    Annotated[
        str,
        StringConstraints(max_length=63, pattern=r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$"),
    ],
]
Quantity = Annotated[str, StringConstraints(pattern=r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$")]
K8sVersion = Annotated[str, StringConstraints(pattern=r"^1\.[0-9]{2}$")]
HfModelId = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
]
# An OCI image reference: [registry/]repository[:tag][@sha256:digest]
_IMAGE = re.compile(
    r"^(?P<repo>[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*)"
    r"(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


def _image_ref(value: str) -> str:
    if not _IMAGE.match(value):
        raise PydanticCustomError(
            "image", "not an image reference (registry/repository[:tag][@sha256:digest])"
        )
    return value


ImageRef = Annotated[str, AfterValidator(_image_ref)]


def image_is_pinned(image: str) -> bool:
    """A digest, or a version tag other than ``latest``."""
    m = _IMAGE.match(image)
    if m is None:
        return False
    if m.group("digest"):
        return True
    tag = m.group("tag")
    return bool(tag) and tag != "latest"


def endpoint_url(model: str, namespace: str) -> str:
    return f"http://{model}.{namespace}.svc.cluster.local:{VLLM_PORT}/v1"


def _path_error(path: str, message: str) -> PydanticCustomError:
    """An error reported at an explicit key path (for checks that span several keys)."""
    return PydanticCustomError(
        "path_error", "{path}: {message}", {"path": path, "message": message}
    )


class _Model(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        str_strip_whitespace=False,
    )


# --------------------------------------------------------------------------------------- cluster


class Autoscaler(_Model):
    """GPU node autoscaling bounds (LKE cluster autoscaler)."""

    min: int = Field(ge=1, le=100, description="fewest GPU nodes the autoscaler keeps")
    max: int = Field(
        ge=1, le=100, description="most GPU nodes; bounds the GPUs every model may use"
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max < self.min:
            raise _path_error("max", f"must be >= min ({self.min}), got {self.max}")
        return self


class GpuPool(_Model):
    """The GPU node pool: created in ``create`` mode, described (for planning) otherwise."""

    type: str = Field(description="LKE GPU plan id, e.g. g2-gpu-rtx4000a1-m")
    count: int = Field(ge=1, le=100, description="node count (initial count when autoscaling)")
    autoscaler: Autoscaler | None = None
    node_labels: LabelMap = Field(
        default_factory=lambda: {"vllm-platform.io/gpu": "true"},
        description=(
            "labels put on (create) or expected on the GPU nodes; vLLM pods select them "
            "(default vllm-platform.io/gpu: true)"
        ),
    )
    taint: bool = Field(
        default=True,
        description="nvidia.com/gpu=present:NoSchedule taint so only GPU workloads land there",
    )

    @field_validator("type")
    @classmethod
    def _known_plan(cls, v: str) -> str:
        if v not in GPU_PLANS:
            raise PydanticCustomError("unknown_plan", str(UnknownPlanError(v)))
        return v

    @model_validator(mode="after")
    def _count_in_range(self) -> Self:
        a = self.autoscaler
        if a is not None and not a.min <= self.count <= a.max:
            raise _path_error(
                "count", f"{self.count} is outside autoscaler.min..max ({a.min}..{a.max})"
            )
        return self

    @property
    def plan(self) -> GpuPlan:
        return GPU_PLANS[self.type]

    @property
    def min_nodes(self) -> int:
        return self.autoscaler.min if self.autoscaler else self.count

    @property
    def max_nodes(self) -> int:
        return self.autoscaler.max if self.autoscaler else self.count


class SystemPool(_Model):
    """The small CPU pool for system workloads (create mode)."""

    type: str = Field(
        default="g6-standard-2",
        pattern=r"^g[0-9]+-[a-z0-9-]+$",
        description="Linode plan of the CPU pool for system workloads",
    )
    count: int = Field(default=1, ge=1, le=20, description="nodes in the system pool")


class ClusterConfig(_Model):
    """How the stack gets its cluster, and the GPU pool it plans against."""

    mode: Literal["create", "stack", "kubeconfig"] = Field(
        description="create an LKE cluster, attach to another stack's, or use a kubeconfig"
    )
    region: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2}-[a-z]+(-[0-9])?$",
        description="Linode region (create mode), e.g. us-ord",
    )
    k8s_version: K8sVersion = Field(
        default="1.33", alias="k8sVersion", description="Kubernetes minor version, e.g. 1.33"
    )
    label: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9]([-_.A-Za-z0-9]{0,30}[A-Za-z0-9])?$",
        description="LKE cluster label (create mode); default vllm-<environment>",
    )
    high_availability: bool = Field(
        default=False, description="HA control plane (create mode; cannot be turned off later)"
    )
    control_plane_acl: (
        list[Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F:.]+/[0-9]{1,3}$")]] | None
    ) = Field(
        default=None,
        min_length=1,
        description=(
            "CIDRs allowed to reach the API server (unset: no ACL; an empty list would deny "
            "everyone, Pulumi included, so it is refused)"
        ),
    )
    tags: list[Annotated[str, StringConstraints(min_length=1, max_length=50)]] = Field(
        default_factory=list, description="Linode tags on the cluster and its pools"
    )
    system_pool: SystemPool = Field(default_factory=SystemPool)
    gpu_pool: GpuPool
    gpu_enablement: Literal["device-plugin", "gpu-operator", "none"] | None = Field(
        default=None,
        description="default: device-plugin in create mode, none otherwise",
    )
    stack_reference: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}$",
        description="stack mode: the cluster stack, org/project/stack",
    )
    kubeconfig_output: str = Field(
        default="kubeconfig", description="stack mode: the referenced stack's kubeconfig output"
    )
    kubeconfig_path: str | None = Field(default=None, description="kubeconfig mode: file path")
    context: str | None = Field(default=None, description="kubeconfig mode: context name")
    cluster_id: str | None = Field(
        default=None,
        description=(
            "stable identifier of the cluster (stack/kubeconfig modes); a kubeconfig rotation "
            "with the same id updates the Kubernetes provider instead of replacing everything"
        ),
    )

    @model_validator(mode="after")
    def _mode_fields(self) -> Self:
        if self.mode == "create" and self.region is None:
            raise _path_error("region", "required when mode is create")
        if self.mode == "stack" and self.stack_reference is None:
            raise _path_error("stackReference", "required when mode is stack (org/project/stack)")
        if self.mode != "create":
            if self.high_availability:
                raise _path_error("highAvailability", "only applies when mode is create")
            if self.control_plane_acl is not None:
                raise _path_error("controlPlaneAcl", "only applies when mode is create")
        if self.mode != "stack" and self.stack_reference is not None:
            raise _path_error("stackReference", "only applies when mode is stack")
        if self.mode == "create" and self.cluster_id is not None:
            raise _path_error(
                "clusterId", "only applies when mode is stack or kubeconfig (create uses LKE's id)"
            )
        if self.mode != "kubeconfig":
            for key, path_or_ctx in (
                ("kubeconfigPath", self.kubeconfig_path),
                ("context", self.context),
            ):
                if path_or_ctx is not None:
                    raise _path_error(key, "only applies when mode is kubeconfig")
        return self

    @property
    def gpu_enablement_resolved(self) -> Literal["device-plugin", "gpu-operator", "none"]:
        if self.gpu_enablement is not None:
            return self.gpu_enablement
        return "device-plugin" if self.mode == "create" else "none"


# -------------------------------------------------------------------------------------- registry


class RegistryConfig(_Model):
    """The PostgreSQL registry the API router reads; passwords are secret keys."""

    host: str = Field(min_length=1, max_length=253, description="PostgreSQL host of the registry")
    port: int = Field(default=5432, ge=1, le=65535, description="PostgreSQL port")
    database: str = Field(min_length=1, max_length=63, description="database of the registry")
    user: str = Field(
        min_length=1,
        max_length=63,
        description="owner user: runs the migrations and manages the roles (registryPassword)",
    )
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = Field(
        default="require", description="libpq sslmode for every registry connection"
    )
    writer_role: Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$")] = Field(
        default="vllm_registry_writer",
        description="role this program and the health reporter write as (registryWriterPassword)",
    )
    reader_role: Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$")] = Field(
        default="vllm_registry_reader",
        description="SELECT-only role for the API router (registryReaderPassword)",
    )
    manage_roles: bool = Field(
        default=True, description="create the writer and reader roles with pulumi-postgresql"
    )


# --------------------------------------------------------------------------------------- network


class PeerSelector(_Model):
    """Pods (in a namespace) allowed to reach the vLLM servers."""

    namespace: NamespaceName = Field(description="namespace of the peer's pods")
    pod_selector: LabelMap = Field(
        default_factory=dict, description="pods in that namespace; empty: every pod"
    )


class NetworkConfig(_Model):
    """Who may reach the vLLM pods: everything else is denied."""

    api_router: PeerSelector = Field(description="the API router's pods: may call vLLM")
    monitoring: PeerSelector = Field(
        default_factory=lambda: PeerSelector(namespace="monitoring"),
        description="the monitoring stack's pods: may scrape /metrics",
    )


# ------------------------------------------------------------------------------- observability


class ObservabilityConfig(_Model):
    """Monitoring objects per model (switch off where the CRDs are missing)."""

    service_monitor: bool = Field(default=True, description="a ServiceMonitor per model")
    prometheus_rule: bool = Field(default=True, description="a PrometheusRule (alerts) per model")
    grafana_dashboard: bool = Field(default=True, description="a dashboard ConfigMap per model")
    dashboard_label: LabelMap = Field(
        default_factory=lambda: {"grafana_dashboard": "1"},
        description="label the Grafana sidecar watches for (default grafana_dashboard: 1)",
    )
    rule_labels: LabelMap = Field(
        default_factory=dict,
        description=(
            "extra labels on ServiceMonitors and PrometheusRules, for the Prometheus operator's "
            "selectors (kube-prometheus-stack selects release: <its release name>)"
        ),
    )
    prometheus_url: Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$")] | None = Field(
        default=None,
        description=(
            "Prometheus that KEDA queries (default: the operator's prometheus-operated Service "
            "in the monitoring namespace)"
        ),
    )
    waiting_requests_threshold: int = Field(
        default=10, ge=1, description="alert when more requests wait than this for 5 minutes"
    )
    kv_cache_usage_threshold: float = Field(
        default=0.9, gt=0, le=1, description="alert when KV cache usage stays above this"
    )
    ttft_p95_seconds: float = Field(
        default=2.0, gt=0, description="alert when time to first token p95 exceeds this"
    )


# ---------------------------------------------------------------------------------------- models


class WeightCache(_Model):
    """Where the Hugging Face cache (the weights) lives across restarts."""

    mode: Literal["per-replica", "shared", "none"] = Field(
        default="per-replica",
        description=(
            "per-replica: a StatefulSet with one block-storage volume per replica (default); "
            "shared: a Deployment sharing one ReadWriteMany volume; none: an emptyDir"
        ),
    )
    size_gi: int | None = Field(default=None, ge=1, le=10240, description="default: 1.5 x weights")
    storage_class: str = Field(
        default="linode-block-storage-retain",
        min_length=1,
        description="storage class of the weight cache volumes",
    )

    @model_validator(mode="after")
    def _shared_needs_rwx(self) -> Self:
        if self.mode == "shared" and self.storage_class.startswith("linode-block-storage"):
            raise _path_error(
                "storageClass",
                "mode shared needs a ReadWriteMany storage class (e.g. an NFS or CephFS "
                f"class); {self.storage_class} is Linode block storage, ReadWriteOnce only",
            )
        return self


class Resources(_Model):
    """CPU and memory requests of the vLLM container."""

    cpu: Quantity | None = Field(default=None, description="CPU request (default by model size)")
    memory: Quantity | None = Field(default=None, description="memory request (default by size)")


class Autoscaling(_Model):
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
            raise _path_error("maxReplicas", "must be >= minReplicas")
        return self


class Ingress(_Model):
    """Direct HTTPS access to /v1 through an Ingress with a cert-manager certificate."""

    host: Annotated[
        str,
        StringConstraints(pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$", max_length=253),
    ]
    cluster_issuer: str = Field(
        default="letsencrypt", min_length=1, description="cert-manager ClusterIssuer for TLS"
    )
    class_name: str = Field(default="nginx", min_length=1, description="IngressClass name")
    controller_namespace: NamespaceName = Field(
        default="ingress-nginx", description="namespace of the ingress controller's pods"
    )


def _flag_name(token: str) -> str | None:
    if not token.startswith("-"):
        return None
    name = token.split("=", 1)[0]
    return name.replace("_", "-") if name.startswith("--") else name


class HealthReporterConfig(_Model):
    """The in-cluster health reporter; unset keys take the builder's defaults
    (components/health_reporter/manifests.py, HealthReporterSettings)."""

    enabled: bool | None = Field(default=None, description="run the reporter (default: on)")
    schedule: str | None = Field(
        default=None, description="five-field cron schedule, UTC (default: every minute)"
    )
    unhealthy_disables_routing: bool | None = Field(
        default=None, description="turn routing off for an unhealthy model (never back on)"
    )
    timeout_seconds: int | None = Field(
        default=None, ge=1, le=10, description="per-probe /health timeout (default: 3)"
    )
    probe_image: ImageRef | None = Field(default=None, description="curl image (pinned default)")
    psql_image: ImageRef | None = Field(default=None, description="psql image (pinned default)")
    ssl_root_cert: str | None = Field(
        default=None, description="PEM of the registry's CA (needed for sslmode verify-ca)"
    )
    # issue #14: flap damping (HealthReporterSettings.failure_threshold).
    failure_threshold: int | None = Field(
        default=None,
        ge=1,
        le=60,
        description="failed probes in a row before a model is marked unhealthy (default: 3)",
    )


class ModelConfig(_Model):
    """One model: one VllmDeployment and one registry entry."""

    name: ModelName = Field(description="served model name and Kubernetes object name")
    hf_model_id: HfModelId = Field(description="Hugging Face model id, org/name")
    revision: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")] = (
        Field(description="model revision; staging/production: a 40-hex commit")
    )
    image: ImageRef = Field(
        description="vLLM image; staging/production: a version tag (not latest) or a digest"
    )
    replicas: int = Field(
        default=1, ge=1, le=64, description="production: >= 2 unless allowDowntime"
    )
    allow_downtime: bool = Field(
        default=False, description="accept a single replica (and downtime on updates) in production"
    )
    gpus_per_replica: Literal[1, 2, 4, 8] = Field(
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
        default="bf16", description="weight precision (memory-fit check; quantize via extraArgs)"
    )
    routing_enabled: bool = Field(
        default=True, description="the registry entry tells the API router to route to it"
    )
    extra_args: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
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
        default=15, ge=5, le=180, description="startup probe budget for loading the model"
    )
    smoke_test_timeout_seconds: float = Field(
        default=3.0, gt=0, le=120, description="the smoke test's completion must answer within"
    )
    shm_size_gi: int = Field(
        default=16, ge=1, le=512, description="memory-backed /dev/shm when gpusPerReplica > 1"
    )
    weight_cache: WeightCache = Field(default_factory=WeightCache)
    resources: Resources = Field(default_factory=Resources)
    autoscaling: Autoscaling | None = None
    ingress: Ingress | None = None

    @field_validator("extra_args")
    @classmethod
    def _no_managed_flags(cls, args: list[str]) -> list[str]:
        if args and _flag_name(args[0]) is None:
            raise PydanticCustomError(
                "extra_args",
                "must start with a flag (--name or --name=value), got {arg!r}",
                {"arg": args[0]},
            )
        for arg in args:
            name = _flag_name(arg)
            if name in MANAGED_VLLM_FLAGS:
                raise PydanticCustomError(
                    "managed_flag",
                    "{flag} is set by the platform from the model's own keys; remove it",
                    {"flag": name},
                )
        return args

    @model_validator(mode="after")
    def _against_environment_and_pool(self, info: ValidationInfo) -> Self:
        ctx: Mapping[str, Any] = info.context or {}
        env = ctx.get("environment")
        plan: GpuPlan | None = ctx.get("plan")
        if env in ("staging", "production"):
            if not image_is_pinned(self.image):
                raise _path_error(
                    "image",
                    f"{env} requires a pinned image (a version tag other than latest, "
                    f"or @sha256 digest), got {self.image!r}",
                )
            if not re.fullmatch(r"[0-9a-f]{40}", self.revision):
                raise _path_error(
                    "revision",
                    f"{env} requires a pinned revision (a 40-character commit hash), "
                    f"got {self.revision!r}",
                )
        if env == "production" and self.replicas < 2 and not self.allow_downtime:
            raise _path_error(
                "replicas",
                "production needs replicas >= 2 so an update or node loss keeps the model "
                "serving; set allowDowntime: true to accept a single replica",
            )
        if self.autoscaling is not None and not (
            self.autoscaling.min_replicas <= self.replicas <= self.autoscaling.max_replicas
        ):
            raise _path_error("replicas", "must be within autoscaling.minReplicas..maxReplicas")
        if self.accelerator == "cpu" and re.match(
            r"^(docker\.io/)?vllm/vllm-openai[:@]", self.image
        ):
            raise _path_error(
                "image",
                "accelerator cpu needs the CPU image (vllm/vllm-openai-cpu), not the CUDA one",
            )
        if self.accelerator == "cpu":
            if self.gpus_per_replica != 1:
                raise _path_error("gpusPerReplica", "must be 1 (unused) when accelerator is cpu")
            return self
        if plan is None:
            return self
        if self.gpus_per_replica > plan.gpus_per_node:
            raise _path_error(
                "gpusPerReplica",
                f"{self.gpus_per_replica} GPUs per replica but {plan.plan_id} nodes have "
                f"{plan.gpus_per_node}; a replica cannot span nodes",
            )
        fit = fit_memory(
            self.parameters_billions,
            self.precision,
            self.gpus_per_replica,
            plan.gpu_memory_gib,
            self.gpu_memory_utilization,
        )
        if not fit.fits:
            fixes = suggest_fixes(
                self.parameters_billions,
                self.precision,
                self.gpus_per_replica,
                plan,
                self.gpu_memory_utilization,
            )
            hint = "; would fit: " + ", or ".join(fixes) if fixes else ""
            raise _path_error(
                "parametersBillions",
                f"{self.parameters_billions:g}B at {self.precision} needs ~{fit.needed_gib:.1f} "
                f"GiB per replica but {self.gpus_per_replica} x {plan.gpu_model} "
                f"({plan.gpu_memory_gib} GiB) at gpuMemoryUtilization "
                f"{self.gpu_memory_utilization:g} gives {fit.available_gib:.1f} GiB{hint}",
            )
        return self

    @property
    def supports_surge(self) -> bool:
        """Per-replica caches run as a StatefulSet, which replaces pods in place (no surge)."""
        return self.weight_cache.mode != "per-replica"

    @property
    def gpus_total(self) -> int:
        return 0 if self.accelerator == "cpu" else self.replicas * self.gpus_per_replica


# ----------------------------------------------------------------------------------------- stack


class StackConfig(_Model):
    """Everything one stack deploys."""

    environment: Environment = Field(description="development, staging or production")
    namespace: NamespaceName | None = Field(default=None, description="default: vllm-<environment>")
    protect: bool | None = Field(
        default=None,
        description="protect cluster, GPU pool and namespace from deletion (default: production)",
    )
    cluster: ClusterConfig
    registry: RegistryConfig
    network: NetworkConfig
    gpu_budget: int | None = Field(
        default=None,
        ge=0,
        description=(
            "GPUs this environment's namespace may request (its ResourceQuota); default: the "
            "whole pool. Set it when environments share a pool (development + staging)."
        ),
    )
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    health_reporter: HealthReporterConfig = Field(default_factory=HealthReporterConfig)
    models: list[ModelConfig] = Field(min_length=1)

    @field_validator("models")
    @classmethod
    def _unique_names(cls, models: list[ModelConfig]) -> list[ModelConfig]:
        seen: dict[str, int] = {}
        for i, m in enumerate(models):
            if m.name in seen:
                raise _path_error(
                    f"models[{i}].name", f"{m.name!r} is already used by models[{seen[m.name]}]"
                )
            seen[m.name] = i
        return models

    @model_validator(mode="after")
    def _pool_capacity(self) -> Self:
        pool = self.cluster.gpu_pool
        plan = pool.plan
        pool_gpus = pool.max_nodes * plan.gpus_per_node
        if self.gpu_budget is not None and self.gpu_budget > pool_gpus:
            raise _path_error(
                "gpuBudget",
                f"{self.gpu_budget} is more than the GPU pool holds ({pool_gpus}: "
                f"{pool.max_nodes} x {plan.plan_id} with {plan.gpus_per_node} GPU each)",
            )
        gpu_models = [m for m in self.models if m.accelerator == "gpu"]
        needed = sum(m.gpus_total for m in gpu_models)
        for i, m in enumerate(self.models):
            auto = m.autoscaling
            if auto is None or not auto.enabled or m.accelerator == "cpu":
                continue
            at_max = needed - m.gpus_total + auto.max_replicas * m.gpus_per_replica
            if at_max > self.gpu_budget_resolved:
                raise _path_error(
                    f"models[{i}].autoscaling.maxReplicas",
                    f"{auto.max_replicas} x {m.gpus_per_replica} GPU plus the other models needs "
                    f"{at_max} GPUs; this environment may use {self.gpu_budget_resolved}",
                )
        if needed > self.gpu_budget_resolved:
            parts = ", ".join(f"{m.name} {m.replicas}x{m.gpus_per_replica}" for m in gpu_models)
            where = (
                f"the environment's gpuBudget is {self.gpu_budget}"
                if self.gpu_budget is not None
                else f"the GPU pool holds at most {pool_gpus} ({pool.max_nodes} x "
                f"{plan.plan_id} with {plan.gpus_per_node} GPU each)"
            )
            raise _path_error(
                "models",
                f"needs {needed} GPUs ({parts}) but {where}; raise "
                "cluster.gpuPool.autoscaler.max (or count) or gpuBudget, or lower replicas",
            )
        return self

    @property
    def gpu_budget_resolved(self) -> int:
        """GPUs this environment may use: its gpuBudget, else the GPU pool's maximum."""
        pool = self.cluster.gpu_pool
        pool_gpus = pool.max_nodes * pool.plan.gpus_per_node
        return pool_gpus if self.gpu_budget is None else self.gpu_budget

    @property
    def namespace_name(self) -> str:
        return self.namespace or f"vllm-{self.environment}"

    @property
    def protected(self) -> bool:
        return self.environment == "production" if self.protect is None else self.protect

    def endpoint_url(self, model: str) -> str:
        return endpoint_url(model, self.namespace_name)


# ---------------------------------------------------------------------------------------- loading


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(Exception):
    """Every problem found in a stack's configuration, each naming its key path."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


@dataclass(frozen=True, slots=True)
class LoadedStack:
    config: StackConfig
    secrets_set: frozenset[str]

    @property
    def missing_secrets(self) -> list[str]:
        return [
            k
            for k, (required, _) in SECRET_KEYS.items()
            if required and k not in self.secrets_set and self._needed(k)
        ]

    def _needed(self, key: str) -> bool:
        if key == "registryReaderPassword":
            return self.config.registry.manage_roles
        if key == "registryWriterPassword":
            # The health reporter connects as the writer role, managed here or not.
            reporter = self.config.health_reporter.enabled is not False
            return self.config.registry.manage_roles or reporter
        return True


def _join(base: str, loc: Iterable[str | int]) -> str:
    out = base
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _issues_from(exc: ValidationError) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    for err in exc.errors(include_url=False):
        loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
        if err["type"] == "path_error":
            ctx = err.get("ctx") or {}
            rel = str(ctx["path"])
            base = _join("", loc)
            path = rel if rel.startswith("models[") else (f"{base}.{rel}" if base else rel)
            issues.append(ConfigIssue(path, str(ctx["message"])))
            continue
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "literal_error":
            msg = f"{msg}, got {err.get('input')!r}"
        elif err["type"].startswith("value_error"):
            msg = msg.removeprefix("Value error, ")
        issues.append(ConfigIssue(_join("", loc), msg))
    return issues


def _secret_key_issues(raw: Mapping[str, Any], secret_keys: set[str]) -> list[ConfigIssue]:
    """Top-level secret keys must be Pulumi secrets; nothing secret-looking elsewhere."""
    issues: list[ConfigIssue] = []
    for key in SECRET_KEYS:
        if key in raw and key not in secret_keys:
            issues.append(
                ConfigIssue(
                    key,
                    f"is in plain text; set it with `pulumi config set --secret {key}` "
                    "(and rotate the exposed value)",
                )
            )

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                child = f"{path}.{k}" if path else str(k)
                if isinstance(k, str) and _SECRETISH.search(k) and isinstance(v, (str, int)):
                    issues.append(
                        ConfigIssue(
                            child,
                            "secrets may not be written in the stack file; use the secret keys "
                            f"({', '.join(SECRET_KEYS)}) set with `pulumi config set --secret`",
                        )
                    )
                else:
                    walk(v, child)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                if isinstance(v, str) and _SECRETISH.search(v.split("=", 1)[0]) and "=" in v:
                    issues.append(ConfigIssue(f"{path}[{i}]", "carries a secret in plain text"))
                walk(v, f"{path}[{i}]")

    for key, value in raw.items():
        if key not in SECRET_KEYS:
            walk(value, key)
    return issues


def _context(raw: Mapping[str, Any]) -> dict[str, Any]:
    """What per-model checks need from elsewhere in the stack, when that part is itself valid."""
    ctx: dict[str, Any] = {}
    env = raw.get("environment")
    if env in ("development", "staging", "production"):
        ctx["environment"] = env
    cluster = raw.get("cluster")
    pool = cluster.get("gpuPool") if isinstance(cluster, Mapping) else None
    plan_id = pool.get("type") if isinstance(pool, Mapping) else None
    if isinstance(plan_id, str) and plan_id in GPU_PLANS:
        ctx["plan"] = GPU_PLANS[plan_id]
    return ctx


def load_stack_config(raw: Mapping[str, Any], secret_keys: Iterable[str] = ()) -> LoadedStack:
    """Validate the project's config keys (prefix already stripped) into a ``LoadedStack``.

    ``secret_keys`` names the keys that are Pulumi secrets; their values are never looked at.
    Raises ``ConfigError`` listing every problem found.
    """
    secrets = set(secret_keys)
    issues = _secret_key_issues(raw, secrets)
    data = {k: v for k, v in raw.items() if k not in SECRET_KEYS}
    config: StackConfig | None = None
    try:
        config = StackConfig.model_validate(data, context=_context(raw))
    except ValidationError as exc:
        issues.extend(_issues_from(exc))
    if issues or config is None:
        raise ConfigError(issues)
    return LoadedStack(config=config, secrets_set=frozenset(k for k in secrets if k in raw))
