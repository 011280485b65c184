"""The policy pack's rules as pure functions over plain resource properties (what the engine
sends; ``policy/policies.py`` makes them plain, unknown preview values becoming ``UNKNOWN``).
Every message names the object, what is wrong and how to fix it; an unknown value never fails
a rule on its own (the update re-runs it with the value known).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from components.contract import (
    ALLOW_DOWNTIME_ANNOTATION,
    ENVIRONMENT_LABEL,
    ENVIRONMENTS,
    GPU_RESOURCE,
    PINNED_ENVIRONMENTS,
    ROUTING_ANNOTATION,
    image_is_pinned,
)
from policy.objects import (
    DEFAULT_GPU_POOL_MAX_NODES,
    DYNAMIC_PREFIX,
    HPA_TYPES,
    LKE_CLUSTER,
    NETWORK_POLICY,
    NODE_POOL,
    PDB,
    Resource,
    Violation,
    Workload,
    container_name,
    env_phrase,
    environment_of,
    is_cpu_mode,
    is_secret_env_name,
    object_title,
    pod_containers,
    pod_spec,
    selector_matches,
    vllm_workload,
)
from policy.values import UNKNOWN, Unknown, as_int, dig, falsy, mapping, sequence, truthy

# ------------------------------------------------------------------------- resource policies


def check_pinned_images(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """vLLM containers in staging and production (or unlabelled) run pinned images."""
    w = vllm_workload(resource_type, props)
    if w is None:
        return []
    env = environment_of(w)
    if env is not None and env not in PINNED_ENVIRONMENTS:
        return []
    out: list[str] = []
    for c in w.containers:
        image = c.get("image")
        if image is UNKNOWN:
            continue
        if not isinstance(image, str) or not image_is_pinned(image):
            out.append(
                f"{w.title}: container '{container_name(c)}' image {image!r} is not pinned; "
                f"{env_phrase(env)} requires a version tag other than 'latest' or an "
                "@sha256 digest. Fix: set the model's `image` in Pulumi.<stack>.yaml to a release "
                "tag such as vllm/vllm-openai:v0.11.0 (or append @sha256:<digest>)."
            )
    return out


def _quantity_set(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str | int | float) and str(value).strip() != "")


def _probe_set(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    probe = mapping(value)
    return any(k in probe for k in ("httpGet", "tcpSocket", "exec", "grpc"))


def check_vllm_containers(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """GPUs (unless CPU mode), CPU and memory requests, and the three probes."""
    w = vllm_workload(resource_type, props)
    if w is None:
        return []
    out: list[str] = []
    for c in w.containers:
        where = f"{w.title}: container '{container_name(c)}'"
        resources = mapping(c.get("resources"))
        requests = mapping(resources.get("requests"))
        limits = mapping(resources.get("limits"))
        if not is_cpu_mode(w, c):
            gpus = as_int(limits.get(GPU_RESOURCE))
            req_gpus = requests.get(GPU_RESOURCE)
            if not isinstance(gpus, Unknown) and (gpus is None or gpus < 1):
                out.append(
                    f"{where} requests no GPU: set resources.limits['{GPU_RESOURCE}'] (and the "
                    "same in requests) to the model's gpusPerReplica, or run the model in CPU mode "
                    "(`accelerator: cpu` in the stack file sets VLLM_CPU_KVCACHE_SPACE)."
                )
            elif (
                req_gpus is not None
                and req_gpus is not UNKNOWN
                and not isinstance(gpus, Unknown)
                and as_int(req_gpus) != gpus
            ):
                out.append(
                    f"{where}: GPU request {req_gpus!r} differs from the limit {gpus!r}; "
                    f"Kubernetes requires them equal for {GPU_RESOURCE}: set both to "
                    "gpusPerReplica."
                )
        missing = [k for k in ("cpu", "memory") if not _quantity_set(requests.get(k))]
        if missing:
            out.append(
                f"{where} sets no {' or '.join(missing)} request: set resources.requests."
                f"{'/'.join(missing)} (the model's `resources` in the stack file, or the builder "
                "default in components/manifests/vllm/workload.py) so the scheduler reserves what "
                "vLLM uses."
            )
        probes = ("startupProbe", "readinessProbe", "livenessProbe")
        absent = [p for p in probes if not _probe_set(c.get(p))]
        if absent:
            out.append(
                f"{where} lacks {', '.join(absent)}: vLLM needs all three on /health (a long "
                "startupProbe covers loading and compiling; see probes() in "
                "components/manifests/vllm/workload.py)."
            )
    return out


def check_container_env_secrets(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """No container env var named like a token, password or API key holds a literal value."""
    spec = pod_spec(resource_type, props)
    if spec is None:
        return []
    out: list[str] = []
    title = object_title(resource_type, props)
    for c in pod_containers(spec):
        for e in sequence(c.get("env")):
            env = mapping(e)
            name = env.get("name")
            if not isinstance(name, str) or not is_secret_env_name(name):
                continue
            value = env.get("value")
            if value is None or value == "":
                continue
            out.append(
                f"{title}: container '{container_name(c)}' env {name} carries a literal value; "
                "keep it in a Kubernetes Secret and reference it with valueFrom.secretKeyRef (the "
                "namespace creates `hf-token` and `vllm-api-key` from `pulumi config set "
                "--secret hfToken` / `vllmApiKey`), then rotate the exposed value."
            )
    return out


# ---------------------------------------------------------------------------- stack policies


def _workloads(resources: Iterable[Resource]) -> list[tuple[Resource, Workload]]:
    out = []
    for r in resources:
        w = vllm_workload(r.resource_type, r.props)
        if w is not None:
            out.append((r, w))
    return out


def _same_namespace(a: Any, b: Any) -> bool:
    """Unknown namespaces (preview) are taken to match: objects of one stack share one."""
    if a is UNKNOWN or b is UNKNOWN:
        return True
    return bool(a == b)


def _selects(resource: Resource, workload: Workload, selector_path: tuple[str, ...]) -> bool:
    ns = dig(resource.props, "metadata", "namespace")
    if not _same_namespace(ns, workload.namespace):
        return False
    selector = dig(resource.props, *selector_path)
    matched = selector_matches(selector if selector is not None else {}, workload.labels)
    return matched is not False  # unknown selectors count (the update re-checks)


def _covers_ingress(policy: Resource) -> bool:
    types = dig(policy.props, "spec", "policyTypes")
    if types is None or types is UNKNOWN:
        return True  # Kubernetes defaults policyTypes to include Ingress
    return "Ingress" in sequence(types)


def check_network_policies(resources: Sequence[Resource]) -> list[Violation]:
    """Every vLLM workload's pods are selected by an ingress NetworkPolicy in its namespace."""
    policies = [r for r in resources if r.resource_type == NETWORK_POLICY and _covers_ingress(r)]
    out: list[Violation] = []
    for r, w in _workloads(resources):
        if not any(_selects(p, w, ("spec", "podSelector")) for p in policies):
            out.append(
                Violation(
                    f"{w.title}: no NetworkPolicy selects its pods, so the route allowlist's ports "
                    "(/v1 on 8000, /metrics on 8002, /health on 8003) are open to every pod in "
                    "the cluster. Fix: register the model's "
                    "NetworkPolicy (server_network_policy() in "
                    "components/manifests/vllm/network.py) whose "
                    f"podSelector matches the pod labels {dict(w.labels)}.",
                    r.urn,
                )
            )
    return out


def _min_replicas(w: Workload, resources: Sequence[Resource]) -> int | Unknown | None:
    """``spec.replicas``, or the minimum of an autoscaler that targets the workload."""
    for s in resources:
        if s.resource_type not in HPA_TYPES:
            continue
        target = mapping(dig(s.props, "spec", "scaleTargetRef"))
        if target.get("name") != w.name or not _same_namespace(
            dig(s.props, "metadata", "namespace"), w.namespace
        ):
            continue
        spec = mapping(s.props.get("spec"))
        minimum = spec.get("minReplicas", spec.get("minReplicaCount"))
        if minimum is not None:
            return as_int(minimum)
    replicas: int | Unknown | None = w.replicas
    return replicas


def check_production_availability(resources: Sequence[Resource]) -> list[Violation]:
    """Production vLLM workloads: replicas >= 2 and a PodDisruptionBudget, unless downtime is
    explicitly allowed (annotation ``vllm-platform.io/allow-downtime: "true"``)."""
    pdbs = [r for r in resources if r.resource_type == PDB]
    out: list[Violation] = []
    for r, w in _workloads(resources):
        env = environment_of(w)
        if env not in (None, "production") or truthy(w.annotations.get(ALLOW_DOWNTIME_ANNOTATION)):
            continue
        replicas = _min_replicas(w, resources)
        if not isinstance(replicas, Unknown) and (replicas is None or replicas < 2):
            out.append(
                Violation(
                    f"{w.title} in {env_phrase(env)} runs {replicas or 1} replica; an update or a "
                    "node loss takes the model down. Fix: set the model's `replicas: 2` (or more) "
                    "in Pulumi.production.yaml, or `allowDowntime: true` to accept it (the "
                    f'workload then carries {ALLOW_DOWNTIME_ANNOTATION}: "true").',
                    r.urn,
                )
            )
        if not any(_selects(p, w, ("spec", "selector")) for p in pdbs):
            out.append(
                Violation(
                    f"{w.title} in {env_phrase(env)} has no PodDisruptionBudget, so a node drain "
                    "may evict every replica at once. Fix: register the model's PDB "
                    "(pod_disruption_budget() in components/manifests/vllm/workload.py, "
                    "maxUnavailable: 1) "
                    f"selecting {dict(w.labels)}, or set `allowDowntime: true`.",
                    r.urn,
                )
            )
    return out


def _pool_max_nodes(pool: Mapping[str, Any]) -> int | Unknown | None:
    autoscaler = pool.get("autoscaler")
    if isinstance(autoscaler, Unknown):
        return autoscaler
    if isinstance(autoscaler, Mapping) and autoscaler.get("max") is not None:
        return as_int(autoscaler.get("max"))
    count = pool.get("nodeCount", pool.get("count"))
    return None if count is None else as_int(count)


def _tag_environments(tags: Any) -> set[str]:
    found: set[str] = set()
    for tag in sequence(tags):
        if not isinstance(tag, str):
            continue
        value = re.split(r"[:=]", tag, maxsplit=1)[-1] if re.search(r"[:=]", tag) else tag
        if value in ENVIRONMENTS:
            found.add(value)
    return found


def _stack_environments(resources: Sequence[Resource]) -> set[str]:
    """Environments named by the ``vllm-platform.io/environment`` label of the stack's objects."""
    found: set[str] = set()
    for r in resources:
        if not r.resource_type.startswith("kubernetes:"):
            continue
        env = dig(r.props, "metadata", "labels", ENVIRONMENT_LABEL)
        if env in ENVIRONMENTS:
            found.add(str(env))
    return found


def _gpu_pools(resources: Sequence[Resource]) -> list[tuple[Resource, str, Mapping[str, Any]]]:
    """(resource, description, pool props): LkeNodePools, and GPU pools nested in a cluster."""
    out: list[tuple[Resource, str, Mapping[str, Any]]] = []
    for r in resources:
        if r.resource_type == NODE_POOL:
            out.append((r, f"LKE node pool {r.name}", r.props))
        elif r.resource_type == LKE_CLUSTER:
            for i, pool in enumerate(sequence(r.props.get("pools"))):
                p = mapping(pool)
                if isinstance(p.get("type"), str) and "gpu" in p["type"]:
                    out.append((r, f"LKE cluster {r.name} pools[{i}]", p))
    return out


def check_gpu_pool_budget(
    resources: Sequence[Resource], max_nodes: Mapping[str, int]
) -> list[Violation]:
    """The GPU pool's autoscaler maximum (or node count) stays within the environment's budget.

    The environment comes from the pool's tags (``production``, ``env:production``) and from
    the ``vllm-platform.io/environment`` label of the stack's Kubernetes objects; when they name
    more than one environment, the smallest budget applies.
    """
    budgets = {**DEFAULT_GPU_POOL_MAX_NODES, **max_nodes}
    stack_envs = _stack_environments(resources)
    out: list[Violation] = []
    for r, what, pool in _gpu_pools(resources):
        pool_type = pool.get("type")
        if isinstance(pool_type, str) and "gpu" not in pool_type:
            continue
        nodes = _pool_max_nodes(pool)
        if isinstance(nodes, Unknown):
            continue
        envs = _tag_environments(pool.get("tags")) | stack_envs
        if not envs:
            out.append(
                Violation(
                    f"{what}: cannot tell which environment's GPU budget applies (no environment "
                    "tag on the pool and no object labelled vllm-platform.io/environment in the "
                    "stack). Fix: tag the pool with its environment (e.g. `production`) in "
                    "cluster.tags.",
                    r.urn,
                )
            )
            continue
        env = min(envs, key=lambda e: (budgets.get(e, 0), e))
        budget = budgets.get(env, 0)
        if nodes is None or nodes > budget:
            key = "autoscaler.max" if isinstance(pool.get("autoscaler"), Mapping) else "count"
            out.append(
                Violation(
                    f"{what}: GPU pool may grow to {nodes} nodes but the {env} budget is {budget}. "
                    f"Fix: lower cluster.gpuPool.{key} in Pulumi.{env}.yaml to {budget} or less, "
                    f"or (with approval) raise the policy config gpu-pool-budget.{env}.",
                    r.urn,
                )
            )
    return out


def _registry_entries(resources: Sequence[Resource]) -> list[Resource]:
    return [
        r
        for r in resources
        if r.resource_type.startswith(DYNAMIC_PREFIX)
        and "model_name" in r.props
        and "environment" in r.props
    ]


def check_routed_models_registered(resources: Sequence[Resource]) -> list[Violation]:
    """Every routed vLLM model has a registry entry, and every routed entry has a server.

    A model is routed unless its workload says ``vllm-platform.io/routing-enabled: "false"``.
    """
    entries = _registry_entries(resources)
    workloads = _workloads(resources)
    out: list[Violation] = []

    def entry_matches(entry: Resource, model: str, env: str | None) -> bool:
        name, entry_env = entry.props.get("model_name"), entry.props.get("environment")
        if name is not UNKNOWN and name != model:
            return False
        return entry_env is UNKNOWN or env is None or entry_env == env

    for r, w in workloads:
        routing = w.annotations.get(ROUTING_ANNOTATION)
        if falsy(routing):
            continue
        env = environment_of(w)
        matching = [e for e in entries if entry_matches(e, w.model, env)]
        if not matching:
            out.append(
                Violation(
                    f"{w.title}: model '{w.model}' is routed but has no registry entry, so the API "
                    "router cannot find it. Fix: register a RegistryEntry for it "
                    "(components/resources/registry.py, entry_args(cfg, model, ...)) in the "
                    "program, or set `routingEnabled: false` for the model.",
                    r.urn,
                )
            )
        elif truthy(routing) and all(falsy(e.props.get("routing_enabled")) for e in matching):
            out.append(
                Violation(
                    f"{w.title}: model '{w.model}' is marked routed but its registry entry has "
                    "routing_enabled false. Fix: build the entry from the same config "
                    "(entry_args uses the model's routingEnabled).",
                    r.urn,
                )
            )
    for e in entries:
        name, env = e.props.get("model_name"), e.props.get("environment")
        if not truthy(e.props.get("routing_enabled")) or name is UNKNOWN:
            continue
        if any(
            w.model == name and (env is UNKNOWN or environment_of(w) in (None, env))
            for _, w in workloads
        ):
            continue
        out.append(
            Violation(
                f"registry entry {e.name}: routes model {name!r} ({env}) but no vLLM workload in "
                "this stack serves it, so the router would send traffic nowhere. Fix: keep the "
                "model in the stack's `models`, or remove its RegistryEntry (a deleted entry is "
                "retired) or set routing_enabled false.",
                e.urn,
            )
        )
    return out
