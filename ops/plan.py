"""`python -m ops plan --stack NAME [--file PATH]`: validate a stack file offline and show the plan.

Reads the stack file directly (no Pulumi CLI, no cloud). Exit 0 when valid, 2 with every error
listed when not. Secrets not set yet are listed as things to set, not as errors.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from components.config import SECRET_KEYS, LoadedStack, StackConfig
from components.manifests.lke import replacement_warnings
from components.planning.capacity import StackPlan
from components.vllm_contract import version_for_image
from ops.stack import load_offline

__all__ = ["contract_cautions", "format_plan", "main"]


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
CAUTIONS: list[Callable[[StackConfig], list[str]]] = [replacement_warnings, contract_cautions]


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


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]


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
        "",
    ]
    rows = [["MODEL", "GPUS", "REPLICAS", "MEMORY GiB need/avail", "KV GiB", "ROLLOUT", "ENDPOINT"]]
    for m, mc in zip(plan.models, cfg.models, strict=True):
        if m.fit is None:
            gpus, mem, kv = "cpu", "-", "-"
        else:
            gpus = f"{m.replicas}x{m.gpus_per_replica}"
            mem = f"{m.fit.needed_gib:.1f}/{m.fit.available_gib:.1f}"
            kv = f"{m.fit.kv_cache_gib:.1f}"
        routed = "" if mc.routing_enabled else " (not routed)"
        rows.append(
            [m.name, gpus, str(m.replicas), mem, kv, m.strategy.value, m.endpoint_url + routed]
        )
    lines += _table(rows)
    warnings = [f"{pool.type}: {gp.note}" for _ in [0] if not gp.lke_supported]
    warnings += [c for caution in CAUTIONS for c in caution(cfg)]
    if warnings:
        lines += ["", "Cautions:"] + [f"  - {w}" for w in warnings]
    missing = loaded.missing_secrets
    optional = [
        k
        for k, (req, _) in SECRET_KEYS.items()
        if not req and k not in loaded.secrets_set and k not in missing
    ]
    if missing or optional:
        lines += ["", "Secrets to set before `pulumi up`:"]
        lines += [f"  pulumi config set --secret {k}   # {loaded.purpose(k)}" for k in missing]
        lines += [
            f"  (optional) pulumi config set --secret {k}   # {SECRET_KEYS[k][1]}" for k in optional
        ]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    stack = load_offline(args)
    print(format_plan(stack.loaded, stack.plan, stack.path.name))
    return 0
