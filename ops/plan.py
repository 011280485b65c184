"""`python -m ops plan --stack NAME [--file PATH]`: validate a stack file offline and show the plan.

Reads the stack file directly (no Pulumi CLI, no cloud). Exit 0 when valid, 2 with every error
listed when not. Secrets not set yet are listed as things to set, not as errors.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from components.config import SECRET_KEYS, LoadedStack, StackConfig
from components.manifests.lke import replacement_warnings
from components.manifests.replacements import (
    custom_resource_lines,
    model_replacements,
    registry_cautions,
)
from components.planning.capacity import StackPlan
from components.vllm_contract import version_for_image
from ops.plan_timing import format_timing
from ops.reach import reach_lines
from ops.stack import load_offline
from ops.table import table_lines


def contract_cautions(cfg: StackConfig) -> list[str]:
    """extraArgs of an image whose vLLM version has no contract data here were judged by the
    newest contract (components/vllm_contract.py)."""
    return [
        f"models[{i}].extraArgs: no vLLM flag contract for image {m.image!r}; checked against "
        f"vLLM {m.vllm_contract_version} (generate one with tools/vllm_contract.py)"
        for i, m in enumerate(cfg.models)
        if m.extra_args and version_for_image(m.image) is None
    ]


# Standing cautions shown with every plan (e.g. which keys force a cluster replacement).
CAUTIONS: list[Callable[[StackConfig], list[str]]] = [
    replacement_warnings,
    model_replacements,
    registry_cautions,
    contract_cautions,
]


def _cluster_line(cfg: StackConfig) -> str:
    c = cfg.cluster
    if c.mode == "create":
        ha = ", HA control plane" if c.high_availability else ""
        label = c.label or f"vllm-{cfg.environment}"
        return f"create LKE cluster {label!r} in {c.region}, Kubernetes {c.k8s_version}{ha}"
    if c.mode == "stack":
        return f"attach to the cluster of stack {c.stack_reference} (output {c.kubeconfig_output})"
    where = c.kubeconfig_path or "$KUBECONFIG / ~/.kube/config"
    ctx = f", context {c.context}" if c.context else ""
    return f"existing cluster from kubeconfig {where}{ctx}"


def _placement_lines(plan: StackPlan) -> list[str]:
    """The worst-case placement proof, one clause per replica size."""
    d = plan.demand
    if not plan.placement:
        return []
    g_node = plan.plan.gpus_per_node
    sizes = {c.gpus_per_replica: c for c in plan.placement}
    clauses = [
        f"{g}-GPU replicas fit while the other pods hold < {c.nodes} x {g_node - g + 1}"
        f" (at most {c.others})"
        for g, c in sorted(sizes.items(), reverse=True)
    ]
    others = f", other namespaces {d.others}" if d.others else ""
    return [
        f"Placement (worst case, {plan.pool_max_nodes} nodes): this stack may hold {d.own} GPUs"
        f" (replicas, surge, autoscaling maxima){others}; " + "; ".join(clauses)
    ]


def _model_rows(plan: StackPlan, cfg: StackConfig) -> list[list[str]]:
    typical = {m.concurrency.typical_tokens for m in plan.models if m.concurrency}
    at = f"SEQS @{typical.pop()}" if len(typical) == 1 else "SEQS @typical"
    rows = [
        [
            "MODEL",
            "GPUS",
            "WEIGHTS",
            "LOAD GiB/GPU",
            "SERVE GiB need/avail",
            "KV GiB",
            "SEQS @maxLen",
            at,
            "CACHE",
            "ROLLOUT",
            "ENDPOINT",
        ]
    ]
    for m, mc in zip(plan.models, cfg.models, strict=True):
        weights = (
            m.checkpoint_precision
            if m.checkpoint_precision == mc.precision
            else f"{m.checkpoint_precision}->{mc.precision}"
        )
        if m.fit is None or m.load is None:
            gpus, load, mem = f"{m.replicas}xcpu", "-", "-"
            kv = f"{mc.cpu_kv_cache_space_gi:.1f}"
        else:
            gpus = f"{m.replicas}x{m.gpus_per_replica}"
            load = f"{m.load.peak_per_gpu_gib:.1f}/{m.load.gpu_memory_gib}"
            mem = f"{m.fit.needed_gib:.1f}/{m.fit.available_gib:.1f}"
            kv = f"{m.fit.kv_cache_gib:.1f}"
        c = m.concurrency
        seqs_max = f"{c.at_max_len:.1f} @{mc.max_model_len}" if c else "?"
        seqs_typ = f"{c.at_typical_len:.0f}" if c else "?"
        cache = "-" if mc.weight_cache.mode == "none" else f"{m.weight_cache_gi}Gi"
        routed = "" if mc.routing_enabled else " (not routed)"
        rows.append(
            [
                m.name,
                gpus,
                weights,
                load,
                mem,
                kv,
                seqs_max,
                seqs_typ,
                cache,
                m.strategy.value,
                m.endpoint_url + routed,
            ]
        )
    return rows


def format_plan(loaded: LoadedStack, plan: StackPlan, source: str) -> str:
    cfg = loaded.config
    gp = plan.plan
    pool = cfg.cluster.gpu_pool
    lines = [
        f"Stack file {source}: environment {cfg.environment}, namespace {cfg.namespace_name}"
        + (" (protected)" if cfg.protected else ""),
        f"Cluster: {_cluster_line(cfg)}",
        f"GPU pool: {gp.plan_id} ({gp.gpus_per_node} x {gp.gpu_model}, {gp.gpu_memory_gib} GiB"
        f" each), nodes {plan.pool_min_nodes}..{plan.pool_max_nodes}"
        f" -> at most {plan.pool_max_gpus} GPUs;"
        f" GPU enablement: {cfg.cluster.gpu_enablement_resolved}",
        f"Capacity: models need {plan.gpus_needed} GPUs ({plan.nodes_needed} nodes) of a"
        f" {plan.gpu_budget}-GPU budget; {plan.spare_gpus} spare,"
        f" {plan.surge_gpus} held for surge rollouts",
    ]
    lines += _placement_lines(plan)
    lines += ["", *table_lines(_model_rows(plan, cfg))]
    timing_lines, timing_cautions = format_timing(cfg)
    lines += timing_lines
    lines += ["", "Custom resources:"] + [f"  - {c}" for c in custom_resource_lines(cfg)]
    warnings = [f"{pool.type}: {gp.note}" for _ in [0] if not gp.lke_supported]
    warnings += list(plan.cautions)
    warnings += timing_cautions
    warnings += [c for caution in CAUTIONS for c in caution(cfg)]
    if warnings:
        lines += ["", "Cautions:"] + [f"  - {w}" for w in warnings]
    lines += ["", *reach_lines(cfg)]
    missing = loaded.missing_secrets
    optional = [
        k
        for k, (req, _) in SECRET_KEYS.items()
        if not req and k not in loaded.secrets_set and k not in missing
    ]
    if missing or optional:
        # --stack, so the secret lands in this stack, not whichever one is selected.
        name = source.removeprefix("Pulumi.").removesuffix(".yaml")
        to = f"--stack {name} " if source.startswith("Pulumi.") else ""
        lines += ["", "Secrets to set before `pulumi up`:"]
        lines += [f"  pulumi config set {to}--secret {k}   # {loaded.purpose(k)}" for k in missing]
        lines += [
            f"  (optional) pulumi config set {to}--secret {k}   # {SECRET_KEYS[k][1]}"
            for k in optional
        ]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    stack = load_offline(args)
    print(format_plan(stack.loaded, stack.plan, stack.path.name))
    return 0
