"""``cluster``: how the stack gets its cluster, and the GPU pool it plans against."""

from __future__ import annotations

from typing import Annotated, Final, Literal, Self

from pydantic import Field, StringConstraints, field_validator, model_validator
from pydantic_core import PydanticCustomError

from components.config.base import ConfigModel, path_error
from components.config.gpu_plans import GPU_PLANS, GpuPlan, UnknownPlanError
from components.config.types import Cidr, K8sVersion, LabelMap


class Autoscaler(ConfigModel):
    """GPU node autoscaling bounds (LKE cluster autoscaler)."""

    min: int = Field(ge=1, le=100, description="fewest GPU nodes the autoscaler keeps")
    max: int = Field(
        ge=1, le=100, description="most GPU nodes; bounds the GPUs every model may use"
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max < self.min:
            raise path_error("max", f"must be >= min ({self.min}), got {self.max}")
        return self


class GpuPool(ConfigModel):
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
            raise path_error(
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

    @property
    def max_gpus(self) -> int:
        """GPUs the pool holds at its largest (the autoscaler's maximum)."""
        return self.max_nodes * self.plan.gpus_per_node


class SystemPool(ConfigModel):
    """The small CPU pool for system workloads (create mode)."""

    type: str = Field(
        default="g6-standard-2",
        pattern=r"^g[0-9]+-[a-z0-9-]+$",
        description="Linode plan of the CPU pool for system workloads",
    )
    count: int = Field(default=1, ge=1, le=20, description="nodes in the system pool")


class InstalledOperators(ConfigModel):
    """Operators whose CRDs the cluster has; custom resources are created only for those.

    Off until the user says the operator is installed, in every mode: a cluster this stack
    creates has no CRDs, and an attached one (staging attaches to the cluster development
    creates) has only what someone installed there. A custom resource without its CRD passes
    preview and fails ``up`` (docs/provider-semantics.md).
    """

    prometheus_operator: bool = Field(
        default=False,
        description=(
            "the Prometheus operator's CRDs (ServiceMonitor, PrometheusRule) are installed, "
            "e.g. by kube-prometheus-stack"
        ),
    )
    keda: bool = Field(default=False, description="KEDA's CRD (ScaledObject) is installed")


# A StatefulSet's spec.updateStrategy.rollingUpdate.maxUnavailable is behind Kubernetes'
# MaxUnavailableStatefulSet feature gate, off by default before 1.37 (alpha 1.24-1.34; beta and on
# in 1.35.0-1.35.3, off again from 1.35.4 through 1.36), and while it is off the API server drops
# the field without a word: docs/provider-semantics.md, "StatefulSet maxUnavailable".
STATEFULSET_MAX_UNAVAILABLE_SINCE: Final = 37  # Kubernetes 1.37


class ClusterConfig(ConfigModel):
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
    control_plane_acl: list[Cidr] | None = Field(
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
    gpu_pool: GpuPool | None = Field(
        default=None,
        description=(
            "The GPU node pool: created in create mode, described (for planning) otherwise; "
            "a stack whose models all run on CPU (accelerator: cpu) outside create mode needs none"
        ),
    )
    gpu_enablement: Literal["device-plugin", "gpu-operator", "none"] | None = Field(
        default=None,
        description="default: device-plugin in create mode, none otherwise",
    )
    installed: InstalledOperators = Field(default_factory=InstalledOperators)
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
            "kubeconfig mode: stable identifier of the cluster; a kubeconfig rotation with the "
            "same id updates the Kubernetes provider instead of replacing everything. Stack "
            "mode takes the referenced stack's clusterId; a value here only marks a stack "
            "deployed with a literal one: the provider then runs without an identifier until "
            "the key is removed (docs/operations.md)"
        ),
    )

    @model_validator(mode="after")
    def _mode_fields(self) -> Self:
        if self.mode == "create" and self.region is None:
            raise path_error("region", "required when mode is create")
        if self.mode == "create" and self.gpu_pool is None:
            raise path_error("gpuPool", "required when mode is create (the cluster's GPU nodes)")
        plan = self.gpu_pool.plan if self.gpu_pool is not None else None
        if self.mode == "create" and plan is not None and not plan.lke_supported:
            raise path_error(
                "gpuPool.type", f"LKE cannot create a pool of {plan.plan_id}: {plan.note}"
            )
        if self.mode == "stack" and self.stack_reference is None:
            raise path_error("stackReference", "required when mode is stack (org/project/stack)")
        if self.mode != "create":
            if self.high_availability:
                raise path_error("highAvailability", "only applies when mode is create")
            if self.control_plane_acl is not None:
                raise path_error("controlPlaneAcl", "only applies when mode is create")
        if self.mode != "stack" and self.stack_reference is not None:
            raise path_error("stackReference", "only applies when mode is stack")
        if self.mode == "create" and self.cluster_id is not None:
            raise path_error(
                "clusterId", "only applies when mode is stack or kubeconfig (create uses LKE's id)"
            )
        if self.mode != "kubeconfig":
            for key, path_or_ctx in (
                ("kubeconfigPath", self.kubeconfig_path),
                ("context", self.context),
            ):
                if path_or_ctx is not None:
                    raise path_error(key, "only applies when mode is kubeconfig")
        return self

    @property
    def honours_statefulset_max_unavailable(self) -> bool:
        """Whether ``k8sVersion`` enables StatefulSet ``maxUnavailable`` by default (a minor
        version names no patch: 1.35's early patches count as off)."""
        minor = int(self.k8s_version.split(".")[1])
        return minor >= STATEFULSET_MAX_UNAVAILABLE_SINCE

    @property
    def gpu(self) -> GpuPool:
        """The GPU pool, for code that runs only when a model runs on a GPU (then the stack
        model requires one)."""
        if self.gpu_pool is None:
            raise ValueError("cluster.gpuPool is not set: every model of this stack runs on CPU")
        return self.gpu_pool

    def has_crds_of(self, operator: Literal["prometheus_operator", "keda"]) -> bool:
        """Whether the cluster has that operator's CRDs (``cluster.installed``)."""
        return bool(getattr(self.installed, operator))

    @property
    def gpu_enablement_resolved(self) -> Literal["device-plugin", "gpu-operator", "none"]:
        if self.gpu_enablement is not None:
            return self.gpu_enablement
        return "device-plugin" if self.mode == "create" else "none"
