"""The vLLM server workload: a StatefulSet (per-replica weight caches) or a Deployment.

Why both: Linode block storage is ReadWriteOnce, so a weight cache that survives restarts and
rollouts without a ReadWriteMany class needs one volume per replica, which is what a
StatefulSet's volumeClaimTemplates give. StatefulSets replace pods in place (no surge), so the
capacity planner gives them ONE_DOWN (replicas >= 2) or DOWNTIME (one replica). With a
``shared`` (ReadWriteMany) cache or no cache (``none``) a Deployment can surge.
"""

from __future__ import annotations

import math

from components.config import ModelConfig, StackConfig
from components.contract import (
    ALLOW_DOWNTIME_ANNOTATION,
    GPU_RESOURCE,
    GPU_TAINT_KEY,
    HEALTH_PORT,
    ROUTING_ANNOTATION,
)
from components.manifests.toolkit import (
    Manifest,
    container_security_context,
    pod_security_context,
)
from components.manifests.vllm import allowlist
from components.manifests.vllm.args import (
    CACHE_MOUNT,
    HOME_DIR,
    SERVER_COMMAND,
    TMP_DIR,
    server_args,
    server_env,
    tensor_parallel_size,
)
from components.manifests.vllm.cpu import cpu_request
from components.manifests.vllm.names import (
    headless_service_name,
    labels,
    metadata,
    revision_labels,
    selector_labels,
    served_selector_labels,
    weights_claim_name,
    workload_name,
)
from components.manifests.vllm.prefetch import fetch_container, offline_env
from components.manifests.vllm.streamer import (
    bucket_label,
    streamer_args,
    streamer_env,
)
from components.planning.capacity import ModelPlan, RolloutStrategy
from components.planning.memory import weight_memory_gib
from components.planning.model_checks import weight_cache_gi
from components.planning.timing import download_budget_seconds, image_pull_budget_seconds

# The vLLM images run as root; we run as toolkit.NON_ROOT_ID instead (any non-zero id works:
# every path vLLM writes to is a volume, see args.py; checkov CKV_K8S_40 asks >= 10000).
PROBE_PERIOD_SECONDS = 10
# Scheduling, a GPU node scale-up and pulling the ~10 GB image (when the pre-puller has not)
# happen before the startup probe's clock starts; this margin covers them in the rollout
# deadlines and Pulumi timeouts. The weight download has its own allowance (download_budget).
ROLLOUT_MARGIN_SECONDS = 15 * 60
_WEIGHTS_VOLUME = "weights"


# Facts the CrossGuard policy pack (policy/rules.py) reads from the workload in `pulumi preview`.


def workload_annotations(model: ModelConfig) -> dict[str, str]:
    return {
        ALLOW_DOWNTIME_ANNOTATION: str(model.allow_downtime).lower(),
        ROUTING_ANNOTATION: str(model.routing_enabled).lower(),
    }


def startup_budget_seconds(model: ModelConfig) -> int:
    """What the startup probe allows vLLM for loading and compiling the model (and for the
    download only when the weights are not prefetched; see prefetch.py)."""
    return model.startup_timeout_minutes * 60


def rollout_timeouts(cfg: StackConfig, model: ModelConfig) -> tuple[int, int]:
    """(create, update) seconds Pulumi waits for the workload to become ready.

    Per pod: the fetch-weights download allowance (``download_budget_seconds``, from
    ``timing.downloadMbPerS``), the startup budget, and the scheduling/pull margin.
    pulumi-kubernetes waits until the StatefulSet or Deployment rollout is complete
    (provider/pkg/await/awaiters.go:93-99,142-168,185-191 at v4.32.0; docs/time-to-ready.md).
    Pods start together on create; an update replaces them one at a time (every strategy we use
    has at most one pod in flight), so it may take ``replicas`` of those.
    """
    # The margin covers scheduling, a node scale-up and the image pull; a large image on a slow
    # registry (timing.imageSizeGb / imagePullMbPerS) can take longer than the margin, and a
    # new node pulls it even with the pre-puller (its DaemonSet pod starts with the node).
    margin = max(ROLLOUT_MARGIN_SECONDS, image_pull_budget_seconds(cfg.timing) + 5 * 60)
    per_pod = download_budget_seconds(cfg.timing, model) + startup_budget_seconds(model) + margin
    # KEDA may have scaled the workload to maxReplicas when the update starts.
    auto = model.active_autoscaling
    pods = max(model.replicas, auto.max_replicas if auto is not None else 0)
    return per_pod, per_pod * pods


def probes(model: ModelConfig) -> Manifest:
    """startup, readiness and liveness probes, all on vLLM's ``/health`` through the route
    allowlist's health port (a number: a named port is looked up in the probed container's own
    ports, and the port is the sidecar's), so they also fail when the proxy cannot reach vLLM.

    vLLM only starts listening once the model is loaded, and ``/health`` answers 200 while the
    engine is alive. The startup probe gives loading the whole budget (period x failures).
    Kubernetes runs neither the liveness nor the readiness probe until the startup probe has
    succeeded, so the liveness probe cannot kill a pod that is still downloading or loading;
    after that it restarts a pod whose engine died (``/health`` fails) within about a minute.
    """
    http = {"path": "/health", "port": HEALTH_PORT}
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
        cpu = cpu_request(model)
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


def _volumes(model: ModelConfig) -> tuple[list[Manifest], list[Manifest]]:
    """(pod volumes, container mounts). The weight volume of a StatefulSet is a claim template."""
    volumes: list[Manifest] = [
        {"name": "home", "emptyDir": {}},
        {"name": "tmp", "emptyDir": {}},
        allowlist.config_volume(model),
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
        limit = f"{weight_cache_gi(model)}Gi"
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
    if model.streams_weights:  # the staging Job filled the bucket; no init container fetches
        fetch = None
        args = streamer_args(model, bucket_label(cfg))
        env = server_env(model) + streamer_env(model)
    else:
        fetch = fetch_container(model, mounts, container_security_context())
        args, env = server_args(model), server_env(model) + offline_env(model)
    container: Manifest = {
        "name": "vllm",
        "image": model.image,
        "imagePullPolicy": "IfNotPresent",
        "command": SERVER_COMMAND,
        "args": args,
        "env": env,
        # No port: vLLM listens on the loopback; the allowlist sidecar has the pod's ports.
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
        # The weights first, then the allowlist (a native sidecar), then vLLM.
        "initContainers": [c for c in (fetch, allowlist.sidecar(model)) if c is not None],
        "containers": [container],
        "volumes": volumes,
    }
    if model.accelerator == "gpu":
        pool = cfg.cluster.gpu
        spec["nodeSelector"] = dict(pool.node_labels)
        if pool.taint:
            spec["tolerations"] = [
                {"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
            ]
    annotations = {allowlist.CHECKSUM_ANNOTATION: allowlist.config_checksum()}
    return {
        "metadata": {
            "labels": labels(cfg, model) | revision_labels(model),
            "annotations": annotations,
        },
        "spec": spec,
    }


def _check_strategy(model: ModelConfig, plan: ModelPlan) -> None:
    if plan.name != model.name:
        raise ValueError(f"plan {plan.name!r} is not the plan of model {model.name!r}")
    if plan.strategy is RolloutStrategy.SURGE and not model.supports_surge:
        raise ValueError(f"{model.name}: a StatefulSet cannot surge; the plan says SURGE")


def _stateful_set_update(plan: ModelPlan) -> Manifest:
    """One pod at a time (ONE_DOWN with >= 2 replicas, DOWNTIME with one); with
    rollout.restart allAtOnce every pod at once: ``maxUnavailable`` 100 % (of the replicas,
    whatever their number), which the API server keeps only where the MaxUnavailableStatefulSet
    gate is on (the config refuses it before Kubernetes 1.37; docs/provider-semantics.md)."""
    rolling: Manifest = {"partition": 0}
    if plan.strategy is RolloutStrategy.ALL_AT_ONCE:
        rolling["maxUnavailable"] = "100%"
    return {"type": "RollingUpdate", "rollingUpdate": rolling}


def _stateful_set(
    cfg: StackConfig, model: ModelConfig, plan: ModelPlan, template: Manifest
) -> Manifest:
    """Per-replica caches: one claim per pod, replaced one pod at a time (or all at once)."""
    claim = {
        "metadata": {"name": _WEIGHTS_VOLUME, "labels": labels(cfg, model)},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": model.weight_cache.storage_class,
            "resources": {"requests": {"storage": f"{weight_cache_gi(model)}Gi"}},
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata(
            cfg, model, workload_name(model), annotations=workload_annotations(model)
        ),
        "spec": {
            "replicas": model.replicas,
            "serviceName": headless_service_name(model),
            # Replicas start (and download) together; ordered start buys nothing here.
            "podManagementPolicy": "Parallel",
            "updateStrategy": _stateful_set_update(plan),
            "minReadySeconds": 0,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": served_selector_labels(model)},
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


def _deployment_strategy(plan: ModelPlan) -> Manifest:
    """SURGE and ONE_DOWN roll one pod at a time. DOWNTIME (one replica) and ALL_AT_ONCE
    (rollout.restart allAtOnce) are ``Recreate``: every old pod is gone before a new one is
    created, so old and new pods never hold the GPUs at once (``RollingUpdate`` with
    ``maxUnavailable`` 100 % would create the new pods beside the terminating ones, Pending
    for their GPUs and quota)."""
    if plan.strategy is RolloutStrategy.SURGE:
        return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    if plan.strategy is RolloutStrategy.ONE_DOWN:
        return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    return {"type": "Recreate"}


def _deployment(
    cfg: StackConfig, model: ModelConfig, plan: ModelPlan, template: Manifest
) -> Manifest:
    _, update_seconds = rollout_timeouts(cfg, model)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(
            cfg, model, workload_name(model), annotations=workload_annotations(model)
        ),
        "spec": {
            "replicas": model.replicas,
            "strategy": _deployment_strategy(plan),
            # Progress is judged per new pod: allow it the download allowance, the whole
            # startup budget and the scheduling and image pull margin before the rollout
            # counts as failed.
            "progressDeadlineSeconds": update_seconds // model.replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": served_selector_labels(model)},
            "template": template,
        },
    }


def workload(cfg: StackConfig, model: ModelConfig, plan: ModelPlan) -> Manifest:
    """The StatefulSet or Deployment (``workload_name``: the model's name, or its revision's with
    keepPrevious), rolled out as the plan says."""
    _check_strategy(model, plan)
    template = server_pod_template(cfg, model)
    if model.uses_statefulset:
        return _stateful_set(cfg, model, plan, template)
    return _deployment(cfg, model, plan, template)


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
            "resources": {"requests": {"storage": f"{weight_cache_gi(model)}Gi"}},
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
