"""The stack model: every section, and the checks that span sections (GPU totals, budget)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from components.config.base import ConfigModel, path_error
from components.config.cluster import ClusterConfig
from components.config.cost import CostConfig
from components.config.health_reporter import HealthReporterConfig
from components.config.isolation import (
    bucket_issue,
    gpu_enablement_issue,
    namespace_issue,
    role_issue,
    stack_name_issue,
    stack_reference_issue,
)
from components.config.model import ModelConfig
from components.config.network import NetworkConfig
from components.config.observability import ObservabilityConfig
from components.config.readiness import WeightStoreConfig, bucket_label_issue
from components.config.registry import RegistryConfig, role_has_word
from components.config.timing import TimingConfig
from components.config.types import Environment, NamespaceName
from components.contract import PROJECT, RESERVED_NAMESPACES, VLLM_PORT


def endpoint_url(model: str, namespace: str) -> str:
    """The model's in-cluster OpenAI base URL (what the registry entry records)."""
    return f"http://{model}.{namespace}.svc.cluster.local:{VLLM_PORT}/v1"


def all_at_once_version_issue(cluster: ClusterConfig, m: ModelConfig) -> str | None:
    """Why ``rollout.restart: allAtOnce`` would not be honoured for ``m`` on the stack's cluster
    (a StatefulSet's maxUnavailable before Kubernetes 1.37), or None. A Deployment is replaced
    by ``Recreate``, which every version honours."""
    if not m.uses_statefulset or cluster.honours_statefulset_max_unavailable:
        return None
    return (
        "a StatefulSet (weightCache.mode per-replica) is replaced all at once through "
        "updateStrategy.rollingUpdate.maxUnavailable, which Kubernetes enables by default only "
        "from 1.37 (feature gate MaxUnavailableStatefulSet); before, the API server drops the "
        "field silently and the replicas still restart one at a time. cluster.k8sVersion is "
        f"{cluster.k8s_version}: set 1.37 or later, or weightCache.mode shared or none (a "
        "Deployment), or restart oneAtATime"
    )


class StackConfig(ConfigModel):
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
    other_namespaces_gpu_budget: int | None = Field(
        default=None,
        ge=0,
        description=(
            "GPUs the other namespaces sharing this GPU pool may request (the sum of their "
            "gpuBudgets), for the placement check; default: the rest of the pool at its maximum "
            "when gpuBudget is set, else 0"
        ),
    )
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    health_reporter: HealthReporterConfig = Field(default_factory=HealthReporterConfig)
    timing: TimingConfig = Field(default_factory=TimingConfig)
    cost: CostConfig = Field(default_factory=CostConfig)
    weight_store: WeightStoreConfig = Field(default_factory=WeightStoreConfig)
    models: list[ModelConfig] = Field(min_length=1)

    @field_validator("models")
    @classmethod
    def _unique_names(cls, models: list[ModelConfig]) -> list[ModelConfig]:
        # One namespace of routable names: the models' and their LoRA adapters'.
        seen: dict[str, str] = {}
        for i, m in enumerate(models):
            named = [(f"models[{i}]", m.name)]
            named += [
                (f"models[{i}].loraAdapters[{j}]", a.name) for j, a in enumerate(m.lora_adapters)
            ]
            for where, name in named:
                if name in seen and not seen[name].startswith(f"models[{i}]"):
                    raise path_error(f"{where}.name", f"{name!r} is already used by {seen[name]}")
                seen.setdefault(name, where)
        return models

    @model_validator(mode="after")
    def _pool_capacity(self) -> Self:
        pool = self.cluster.gpu_pool
        if pool is None:
            gpu = [i for i, m in enumerate(self.models) if m.accelerator == "gpu"]
            if gpu:
                raise path_error(
                    "cluster.gpuPool",
                    f"required: models[{gpu[0]}] runs on a GPU (only a stack whose models all "
                    "run on CPU, accelerator: cpu, needs no GPU pool)",
                )
            return self
        plan = pool.plan
        pool_gpus = pool.max_gpus
        if self.gpu_budget is not None and self.gpu_budget > pool_gpus:
            raise path_error(
                "gpuBudget",
                f"{self.gpu_budget} is more than the GPU pool holds ({pool_gpus}: "
                f"{pool.max_nodes} x {plan.plan_id} with {plan.gpus_per_node} GPU each)",
            )
        gpu_models = [m for m in self.models if m.accelerator == "gpu"]
        needed = sum(m.gpus_total for m in gpu_models)
        for i, m in enumerate(self.models):
            auto = m.active_autoscaling
            if auto is None or m.accelerator == "cpu":
                continue
            at_max = needed - m.gpus_total + auto.max_replicas * m.gpus_per_replica
            if at_max > self.gpu_budget_resolved:
                raise path_error(
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
            raise path_error(
                "models",
                f"needs {needed} GPUs ({parts}) but {where}; raise "
                "cluster.gpuPool.autoscaler.max (or count) or gpuBudget, or lower replicas",
            )
        return self

    @model_validator(mode="after")
    def _roles_cannot_collide(self) -> Self:
        reg, env = self.registry, self.environment
        roles = {"registry.writerRole": self.writer_role, "registry.readerRole": self.reader_role}
        if self.writer_role == self.reader_role:
            raise path_error("registry.readerRole", f"{self.reader_role!r} is the writer role too")
        for path, role in roles.items():
            if role == reg.user:
                raise path_error(
                    path, f"{role!r} is registry.user, the owner (not a role to manage)"
                )
            taken = role_issue(env, role)  # whatever the server: the role is the identity
            if taken is not None:
                raise path_error(path, taken)
            if reg.manage_roles and not reg.exclusive_server and not role_has_word(role, env):
                raise path_error(
                    path,
                    f"{role!r} must contain the environment {env!r} as a word (e.g. "
                    f"{role}_{env}): roles are server-wide, and another stack managing the same "
                    "role fails on CREATE ROLE or drops it on destroy; set "
                    "registry.exclusiveServer: true if no other stack manages roles on "
                    f"{reg.host}:{reg.port}",
                )
        return self

    @model_validator(mode="after")
    def _in_its_own_place(self, info: ValidationInfo) -> Self:
        """Nothing of another environment's: its namespace, its stack name, its cluster."""
        env, cluster = self.environment, self.cluster
        stack = (info.context or {}).get("stack")
        found = {
            "namespace": namespace_issue(env, self.namespace_name),
            "environment": None if stack is None else stack_name_issue(env, stack),
            "cluster.stackReference": (
                None
                if cluster.stack_reference is None
                else stack_reference_issue(env, cluster.stack_reference)
            ),
            "cluster.gpuEnablement": gpu_enablement_issue(cluster.mode, cluster.gpu_enablement),
            "weightStore.bucket": (
                None if self.weight_store.bucket is None else bucket_issue(env, self.bucket_label)
            ),
        }
        for key, problem in found.items():
            if problem is not None:
                raise path_error(key, problem)
        return self

    @model_validator(mode="after")
    def _namespace_is_ours(self) -> Self:
        ns = self.namespace_name
        if ns in RESERVED_NAMESPACES or ns.startswith("kube-"):
            raise path_error(
                "namespace",
                f"{ns!r} is a system namespace; the environment's namespace is labelled "
                "restricted and gets a default-deny ingress policy, which would break what "
                "runs there. Use a namespace of its own (default: vllm-<environment>)",
            )
        peers = {
            "network.apiRouter.namespace": self.network.api_router.namespace,
            "network.monitoring.namespace": self.network.monitoring.namespace,
        }
        for i, m in enumerate(self.models):
            if m.ingress is not None:
                peers[f"models[{i}].ingress.controllerNamespace"] = m.ingress.controller_namespace
        for key, peer in peers.items():
            if peer == ns:
                raise path_error(
                    "namespace",
                    f"{ns!r} is also {key}; the environment's namespace denies ingress by "
                    "default, so the peer must live in a namespace of its own",
                )
        return self

    @model_validator(mode="after")
    def _object_storage_in_the_clusters_region(self) -> Self:
        """The stack's bucket lives in the region of the LKE cluster it creates: with an
        attached cluster (stack, kubeconfig) the program has no region and no Linode account
        it may assume (docs/provider-semantics.md, "Object Storage")."""
        streamed = [i for i, m in enumerate(self.models) if m.streams_weights]
        if not streamed:
            if self.weight_store.bucket is not None:
                raise path_error(
                    "weightStore.bucket",
                    "no model streams its weights (models[].weightSource.kind: objectStorage)",
                )
            return self
        if not self.object_storage_possible:
            raise path_error(
                f"models[{streamed[0]}].weightSource.kind",
                f"objectStorage needs cluster.mode create (the bucket is made in the "
                f"cluster's region); cluster.mode is {self.cluster.mode}: set hub",
            )
        issue = bucket_label_issue(self.bucket_label)
        if issue is not None and self.weight_store.bucket is not None:
            raise path_error("weightStore.bucket", issue)
        if issue is not None:
            raise path_error(
                "namespace", f"the default bucket label {issue}: set weightStore.bucket"
            )
        return self

    @model_validator(mode="after")
    def _all_at_once_is_honoured(self) -> Self:
        """``rollout.restart: allAtOnce`` only where the cluster does what it asks: a field the
        API server drops would leave the rollback as slow as before while the plan says
        otherwise (docs/provider-semantics.md, "StatefulSet maxUnavailable")."""
        for i, m in enumerate(self.models):
            issue = all_at_once_version_issue(self.cluster, m) if m.rollout.all_at_once else None
            if issue is not None:
                raise path_error(f"models[{i}].rollout.restart", issue)
        return self

    @model_validator(mode="after")
    def _custom_resources_have_their_crds(self) -> Self:
        c, obs = self.cluster, self.observability
        operator = c.has_crds_of("prometheus_operator")
        why = (
            "a cluster this stack creates has no CRDs"
            if c.mode == "create"
            else "cluster.installed does not say it is installed"
        )
        for key, on in (
            ("serviceMonitor", obs.service_monitor),
            ("prometheusRule", obs.prometheus_rule),
        ):
            if on and not operator:
                raise path_error(
                    f"observability.{key}",
                    f"needs the Prometheus operator's CRDs ({why}): install it (e.g. "
                    "kube-prometheus-stack), then set cluster.installed.prometheusOperator: true",
                )
        if not c.has_crds_of("keda"):
            for i, m in enumerate(self.models):
                if m.autoscaled:
                    raise path_error(
                        f"models[{i}].autoscaling",
                        f"a ScaledObject needs KEDA's CRDs ({why}): install KEDA, then set "
                        "cluster.installed.keda: true; or autoscaling.enabled: false",
                    )
        for i, m in enumerate(self.models):
            if m.autoscaled and not self.service_monitors and obs.prometheus_url is None:
                # KEDA queries vllm:num_requests_waiting in Prometheus; without a ServiceMonitor
                # nothing scrapes it into the operator's Prometheus, so the count never moves
                # while placement reserves GPUs for maxReplicas.
                raise path_error(
                    f"models[{i}].autoscaling",
                    "scales on vllm:num_requests_waiting, which nothing scrapes here: enable "
                    "ServiceMonitors (cluster.installed.prometheusOperator: true) or set "
                    "observability.prometheusUrl to a Prometheus that scrapes the vLLM pods",
                )
        return self

    @property
    def service_monitors(self) -> bool:
        """A ServiceMonitor per model (needs the Prometheus operator's CRDs)."""
        on = self.observability.service_monitor
        return self.cluster.has_crds_of("prometheus_operator") if on is None else on

    @property
    def prometheus_rules(self) -> bool:
        """A PrometheusRule per model (needs the Prometheus operator's CRDs)."""
        on = self.observability.prometheus_rule
        return self.cluster.has_crds_of("prometheus_operator") if on is None else on

    @property
    def writer_role(self) -> str:
        """The registry role this program and the health reporter write as."""
        return self.registry.writer_role_for(self.environment)

    @property
    def reader_role(self) -> str:
        """The registry's SELECT-only role for the API router."""
        return self.registry.reader_role_for(self.environment)

    @property
    def gpu_budget_resolved(self) -> int:
        """GPUs this environment may use: its gpuBudget, else the GPU pool's maximum."""
        pool = self.cluster.gpu_pool
        pool_gpus = pool.max_gpus if pool is not None else 0
        return pool_gpus if self.gpu_budget is None else self.gpu_budget

    @property
    def other_namespaces_gpus(self) -> int:
        """GPUs other namespaces may hold on this pool: the key, else the rest of the pool."""
        if self.other_namespaces_gpu_budget is not None:
            return self.other_namespaces_gpu_budget
        pool = self.cluster.gpu_pool
        return pool.max_gpus - self.gpu_budget_resolved if pool is not None else 0

    @property
    def object_storage_possible(self) -> bool:
        """Whether a model may stream from a bucket of the stack's: only where the stack creates
        its cluster (its region, its Linode account; ``_object_storage_needs_create``)."""
        return self.cluster.mode == "create"

    @property
    def bucket_label(self) -> str:
        """The stack's Object Storage bucket: ``weightStore.bucket``, else fixed by the project
        and the namespace (one per environment's namespace)."""
        chosen = self.weight_store.bucket  # "" is a label too (refused), never the default
        return f"{PROJECT}-{self.namespace_name}-weights" if chosen is None else chosen

    @property
    def namespace_name(self) -> str:
        return self.namespace or f"vllm-{self.environment}"

    @property
    def protected(self) -> bool:
        return self.environment == "production" if self.protect is None else self.protect

    def endpoint_url(self, model: str) -> str:
        return endpoint_url(model, self.namespace_name)
