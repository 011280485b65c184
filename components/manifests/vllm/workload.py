"""The vLLM server workload: a StatefulSet (per-replica weight caches) or a Deployment.

Why both: Linode block storage is ReadWriteOnce, so a weight cache that survives restarts and
rollouts without a ReadWriteMany class needs one volume per replica, which is what a
StatefulSet's volumeClaimTemplates give. StatefulSets replace pods in place (no surge), so the
capacity planner gives them ONE_DOWN (replicas >= 2) or DOWNTIME (one replica). With a
``shared`` (ReadWriteMany) cache or no cache (``none``) a Deployment can surge.
"""

from __future__ import annotations

import math

from components.config import VLLM_PORT, ModelConfig, StackConfig
from components.manifests.toolkit import GPU_RESOURCE, GPU_TAINT_KEY
from components.manifests.vllm.args import (
    CACHE_MOUNT,
    HOME_DIR,
    SERVER_COMMAND,
    TMP_DIR,
    server_args,
    server_env,
    tensor_parallel_size,
)
from components.manifests.vllm.names import (
    HTTP_PORT_NAME,
    Manifest,
    headless_service_name,
    labels,
    metadata,
    selector_labels,
    weights_claim_name,
)
from components.planning.capacity import ModelPlan, RolloutStrategy
from components.planning.memory import weight_memory_gib

__all__ = [
    "NON_ROOT_ID",
    "PROBE_PERIOD_SECONDS",
    "ROLLOUT_MARGIN_SECONDS",
    "container_security_context",
    "pod_disruption_budget",
    "pod_security_context",
    "probes",
    "resources",
    "rollout_timeouts",
    "server_pod_template",
    "shared_weights_claim",
    "startup_budget_seconds",
    "uses_statefulset",
    "weight_cache_size_gi",
    "workload",
    "workload_annotations",
]

# The vLLM images run as root; we run as this UID/GID instead (any non-zero id works: every
# path vLLM writes to is a volume, see args.py).
# A UID/GID outside the range images and hosts usually assign (checkov CKV_K8S_40 asks >= 10000).
NON_ROOT_ID = 10001
PROBE_PERIOD_SECONDS = 10
# Scheduling, a GPU node scale-up and pulling the ~10 GB image happen before the startup
# probe's clock starts; this margin covers them in the rollout deadlines and Pulumi timeouts.
ROLLOUT_MARGIN_SECONDS = 15 * 60
_WEIGHTS_VOLUME = "weights"


# Facts the CrossGuard policy pack (policy/rules.py) reads from the workload in `pulumi preview`.
ALLOW_DOWNTIME_ANNOTATION = "vllm-platform.io/allow-downtime"
ROUTING_ANNOTATION = "vllm-platform.io/routing-enabled"


def workload_annotations(model: ModelConfig) -> dict[str, str]:
    return {
        ALLOW_DOWNTIME_ANNOTATION: str(model.allow_downtime).lower(),
        ROUTING_ANNOTATION: str(model.routing_enabled).lower(),
    }


def uses_statefulset(model: ModelConfig) -> bool:
    return model.weight_cache.mode == "per-replica"


# What a checkpoint holds on disk: Hugging Face repos ship 16-bit weights (``--quantization``
# quantizes them at load), and a pre-quantized checkpoint is smaller. ``precision`` is not used:
# it describes memory at load, and the size is in the StatefulSet's immutable
# volumeClaimTemplates, so a size that moved with it would replace the StatefulSet.
CHECKPOINT_PRECISION = "bf16"


def weight_cache_size_gi(model: ModelConfig) -> int:
    """Configured size, else 1.5 x the 16-bit checkpoint (room for a second revision), at
    least 20 GiB."""
    if model.weight_cache.size_gi is not None:
        return model.weight_cache.size_gi
    weights = weight_memory_gib(model.parameters_billions, CHECKPOINT_PRECISION)
    return max(20, math.ceil(weights * 1.5))


def startup_budget_seconds(model: ModelConfig) -> int:
    """What the startup probe allows for downloading and loading the model."""
    return model.startup_timeout_minutes * 60


def rollout_timeouts(model: ModelConfig) -> tuple[int, int]:
    """(create, update) seconds Pulumi waits for the workload to become ready.

    Pods start together on create; an update replaces them one at a time (every strategy we
    use has at most one pod in flight), so it may take ``replicas`` startup budgets.
    """
    per_pod = startup_budget_seconds(model) + ROLLOUT_MARGIN_SECONDS
    return per_pod, per_pod * model.replicas


def probes(model: ModelConfig) -> Manifest:
    """startup, readiness and liveness probes, all on vLLM's ``/health``.

    vLLM only starts listening once the model is loaded, and ``/health`` answers 200 while the
    engine is alive. The startup probe gives loading the whole budget (period x failures).
    Kubernetes runs neither the liveness nor the readiness probe until the startup probe has
    succeeded, so the liveness probe cannot kill a pod that is still downloading or loading;
    after that it restarts a pod whose engine died (``/health`` fails) within about a minute.
    """
    http = {"path": "/health", "port": HTTP_PORT_NAME}
    return {
        "startupProbe": {
            "httpGet": http,
            "periodSeconds": PROBE_PERIOD_SECONDS,
            "timeoutSeconds": 5,
            "failureThreshold": math.ceil(startup_budget_seconds(model) / PROBE_PERIOD_SECONDS),
        },
        "readinessProbe": {
            "httpGet": http,
            "periodSeconds": 5,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "httpGet": http,
            "periodSeconds": 15,
            "timeoutSeconds": 10,
            "failureThreshold": 4,
        },
    }


def resources(model: ModelConfig) -> Manifest:
    """Requests (config, else by model size), a memory limit, and the GPUs.

    Defaults by size: GPU mode requests 4 CPUs per GPU and the weights plus 8 GiB of host
    memory (loading stages tensors in host memory); CPU mode holds the weights and the KV
    cache in host memory. The memory limit equals the request so a pod never relies on memory
    the scheduler did not reserve; CPU is not limited (throttling only slows token output).
    """
    weights = weight_memory_gib(model.parameters_billions, model.precision)
    if model.accelerator == "cpu":
        cpu = model.resources.cpu or "4"
        default_mem = math.ceil(weights * 1.2) + model.cpu_kv_cache_space_gi + 2
    else:
        cpu = model.resources.cpu or str(4 * model.gpus_per_replica)
        default_mem = max(16, math.ceil(weights) + 8)
    memory = model.resources.memory or f"{default_mem}Gi"
    out: Manifest = {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}}
    if model.accelerator == "gpu":
        gpus = str(tensor_parallel_size(model))
        out["requests"][GPU_RESOURCE] = gpus
        out["limits"][GPU_RESOURCE] = gpus
    return out


def container_security_context() -> Manifest:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": NON_ROOT_ID,
        "runAsGroup": NON_ROOT_ID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security_context() -> Manifest:
    return {
        "runAsNonRoot": True,
        "runAsUser": NON_ROOT_ID,
        "runAsGroup": NON_ROOT_ID,
        # The cache volume becomes group-writable for us; OnRootMismatch skips the recursive
        # chown of hundreds of GiB of weights on every restart.
        "fsGroup": NON_ROOT_ID,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _volumes(model: ModelConfig) -> tuple[list[Manifest], list[Manifest]]:
    """(pod volumes, container mounts). The weight volume of a StatefulSet is a claim template."""
    volumes: list[Manifest] = [
        {"name": "home", "emptyDir": {}},
        {"name": "tmp", "emptyDir": {}},
    ]
    mounts: list[Manifest] = [
        {"name": _WEIGHTS_VOLUME, "mountPath": CACHE_MOUNT},
        {"name": "home", "mountPath": HOME_DIR},
        {"name": "tmp", "mountPath": TMP_DIR},
    ]
    mode = model.weight_cache.mode
    if mode == "shared":
        volumes.insert(
            0,
            {
                "name": _WEIGHTS_VOLUME,
                "persistentVolumeClaim": {"claimName": weights_claim_name(model)},
            },
        )
    elif mode == "none":
        limit = f"{weight_cache_size_gi(model)}Gi"
        volumes.insert(0, {"name": _WEIGHTS_VOLUME, "emptyDir": {"sizeLimit": limit}})
    if tensor_parallel_size(model) > 1:
        # Tensor-parallel workers exchange data through shared memory; the container default
        # /dev/shm is 64 MiB.
        volumes.append(
            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{model.shm_size_gi}Gi"}}
        )
        mounts.append({"name": "shm", "mountPath": "/dev/shm"})
    return volumes, mounts


def server_pod_template(cfg: StackConfig, model: ModelConfig) -> Manifest:
    volumes, mounts = _volumes(model)
    container: Manifest = {
        "name": "vllm",
        "image": model.image,
        "imagePullPolicy": "IfNotPresent",
        "command": SERVER_COMMAND,
        "args": server_args(model),
        "env": server_env(model),
        "ports": [{"name": HTTP_PORT_NAME, "containerPort": VLLM_PORT, "protocol": "TCP"}],
        "resources": resources(model),
        "volumeMounts": mounts,
        "securityContext": container_security_context(),
        **probes(model),
    }
    spec: Manifest = {
        "automountServiceAccountToken": False,
        # A Service named e.g. `vllm` would inject VLLM_PORT=tcp://..., which vLLM reads as
        # its own setting and rejects; no Service links, no surprise variables.
        "enableServiceLinks": False,
        "securityContext": pod_security_context(),
        "terminationGracePeriodSeconds": 60,
        "containers": [container],
        "volumes": volumes,
    }
    if model.accelerator == "gpu":
        pool = cfg.cluster.gpu_pool
        spec["nodeSelector"] = dict(pool.node_labels)
        if pool.taint:
            spec["tolerations"] = [
                {"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
            ]
    return {"metadata": {"labels": labels(cfg, model)}, "spec": spec}


def _check_strategy(model: ModelConfig, plan: ModelPlan) -> None:
    if plan.name != model.name:
        raise ValueError(f"plan {plan.name!r} is not the plan of model {model.name!r}")
    if plan.strategy is RolloutStrategy.SURGE and not model.supports_surge:
        raise ValueError(f"{model.name}: a StatefulSet cannot surge; the plan says SURGE")


def workload(cfg: StackConfig, model: ModelConfig, plan: ModelPlan) -> Manifest:
    """The StatefulSet or Deployment named after the model, rolled out as the plan says."""
    _check_strategy(model, plan)
    template = server_pod_template(cfg, model)
    selector = {"matchLabels": selector_labels(model)}
    _, update_seconds = rollout_timeouts(model)
    if uses_statefulset(model):
        claim = {
            "metadata": {"name": _WEIGHTS_VOLUME, "labels": labels(cfg, model)},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": model.weight_cache.storage_class,
                "resources": {"requests": {"storage": f"{weight_cache_size_gi(model)}Gi"}},
            },
        }
        return {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": metadata(cfg, model, model.name, annotations=workload_annotations(model)),
            "spec": {
                "replicas": model.replicas,
                "serviceName": headless_service_name(model),
                # Replicas start (and download) together; ordered start buys nothing here.
                "podManagementPolicy": "Parallel",
                # One pod at a time: ONE_DOWN with >= 2 replicas, DOWNTIME with one.
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                "minReadySeconds": 0,
                "revisionHistoryLimit": 5,
                "selector": selector,
                "template": template,
                "volumeClaimTemplates": [claim],
                # Scaling down keeps a replica's cache for the next scale-up; removing the
                # model releases the claims (the -retain storage class keeps the volume).
                "persistentVolumeClaimRetentionPolicy": {
                    "whenDeleted": "Delete",
                    "whenScaled": "Retain",
                },
            },
        }
    if plan.strategy is RolloutStrategy.SURGE:
        strategy: Manifest = {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
        }
    elif plan.strategy is RolloutStrategy.ONE_DOWN:
        strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    else:
        strategy = {"type": "Recreate"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(cfg, model, model.name, annotations=workload_annotations(model)),
        "spec": {
            "replicas": model.replicas,
            "strategy": strategy,
            # Progress is judged per new pod: allow it the whole startup budget plus the
            # scheduling and image pull margin before the rollout counts as failed.
            "progressDeadlineSeconds": update_seconds // model.replicas,
            "revisionHistoryLimit": 5,
            "selector": selector,
            "template": template,
        },
    }


def shared_weights_claim(cfg: StackConfig, model: ModelConfig) -> Manifest | None:
    """The ReadWriteMany claim every replica mounts in ``shared`` mode."""
    if model.weight_cache.mode != "shared":
        return None
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata(cfg, model, weights_claim_name(model)),
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "storageClassName": model.weight_cache.storage_class,
            "resources": {"requests": {"storage": f"{weight_cache_size_gi(model)}Gi"}},
        },
    }


def pod_disruption_budget(cfg: StackConfig, model: ModelConfig) -> Manifest | None:
    """At most one replica evicted at a time (node drains, upgrades) when there are >= 2."""
    if model.replicas < 2:
        return None
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(cfg, model, model.name),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": selector_labels(model)},
            # A replica stuck loading may be evicted even when the budget is used up.
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }
