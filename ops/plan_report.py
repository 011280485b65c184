"""The default report of ``ops plan`` (only what is true of the stack now) and the pieces the
other views share: the verdict line, the findings, the secrets still to set, the problem list.
"""

from __future__ import annotations

from components.config import SECRET_KEYS, LoadedStack, StackConfig
from components.config.vllm_image import image_cautions
from components.manifests.replacements import custom_resource_lines
from components.planning.capacity import StackPlan
from ops.plan_cost import cost_line
from ops.plan_lora import lora_lines
from ops.plan_timing import format_timing
from ops.reach import reach_lines
from ops.table import table_lines

FOOTER = (
    "More: `ops plan --explain` (what changing each key would do), "
    "`ops plan --against REF` (what the change from a git ref does)."
)


def contract_cautions(cfg: StackConfig) -> list[str]:
    """Each model's vLLM image: no contract data, or known advisories
    (components/config/vllm_image.py)."""
    return image_cautions([m.image for m in cfg.models], cfg.environment)


def findings(cfg: StackConfig, plan: StackPlan) -> list[str]:
    """The cautions true of this stack as it is (not what a change would do: ``--explain``)."""
    gp = plan.plan
    out = [f"{gp.plan_id}: {gp.note}"] if not gp.lke_supported else []
    out += list(plan.cautions)
    out += format_timing(cfg)[1]
    out += contract_cautions(cfg)
    return out


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def verdict(problems: int, cautions: int) -> str:
    if problems:
        return _count(problems, "problem")
    return _count(cautions, "caution") if cautions else "OK"


def headline(loaded: LoadedStack, source: str, verdict_text: str) -> str:
    cfg = loaded.config
    protected = " (protected)" if cfg.protected else ""
    return (
        f"{verdict_text} · {source}: environment {cfg.environment}, namespace "
        f"{cfg.namespace_name}{protected}"
    )


def _weights_lines(cfg: StackConfig) -> list[str]:
    """The bucket a streamed model's weights are staged in (none without one)."""
    streamed = [m.name for m in cfg.models if m.streams_weights]
    if not streamed:
        return []
    where = f"{cfg.bucket_label!r} in {cfg.cluster.region}"
    return [
        f"Weights bucket: {where}, made by this stack, for {', '.join(streamed)} (labels are "
        "unique per region across Linode accounts: weightStore.bucket names one of your own)"
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


def _model_row(plan: StackPlan, cfg: StackConfig, i: int) -> list[str]:
    m, mc = plan.models[i], cfg.models[i]
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
    return [m.name, gpus, weights, load, mem, kv, seqs_max, seqs_typ, cache, m.strategy.value]


def _model_rows(plan: StackPlan, cfg: StackConfig) -> list[list[str]]:
    typical = {m.concurrency.typical_tokens for m in plan.models if m.concurrency}
    at = f"SEQS @{typical.pop()}" if len(typical) == 1 else "SEQS @typical"
    header = ["MODEL", "GPUS", "WEIGHTS", "LOAD GiB/GPU", "SERVE GiB need/avail", "KV GiB"]
    header += ["SEQS @maxLen", at, "CACHE", "ROLLOUT", "ENDPOINT"]
    rows = [header]
    for i, (m, mc) in enumerate(zip(plan.models, cfg.models, strict=True)):
        routed = "" if mc.routing_enabled else " (not routed)"
        rows.append([*_model_row(plan, cfg, i), m.endpoint_url + routed])
    return rows


def _pool_lines(cfg: StackConfig, plan: StackPlan) -> list[str]:
    gp = plan.plan
    if cfg.cluster.gpu_pool is None:
        return ["GPU pool: none (every model runs on CPU)"]
    return [
        f"GPU pool: {gp.plan_id} ({gp.gpus_per_node} x {gp.gpu_model}, {gp.gpu_memory_gib} GiB"
        f" each), nodes {plan.pool_min_nodes}..{plan.pool_max_nodes}"
        f" -> at most {plan.pool_max_gpus} GPUs; GPU enablement: "
        f"{cfg.cluster.gpu_enablement_resolved}",
        f"Capacity: models need {plan.gpus_needed} GPUs ({plan.nodes_needed} nodes) of a"
        f" {plan.gpu_budget}-GPU budget; {plan.spare_gpus} spare,"
        f" {plan.surge_gpus} held for surge rollouts"
        + "".join(f". {p}" for p in _placement_lines(plan)),
    ]


def secret_lines(loaded: LoadedStack, source: str) -> list[str]:
    """``pulumi config set`` for each secret still to set (``--stack``, so the secret lands in
    this stack, not whichever one is selected)."""
    missing = loaded.missing_secrets
    optional = [
        k
        for k, (req, _) in SECRET_KEYS.items()
        if not req and k not in loaded.secrets_set and k not in missing
    ]
    if not missing and not optional:
        return []
    name = source.removeprefix("Pulumi.").removesuffix(".yaml")
    to = f"--stack {name} " if source.startswith("Pulumi.") else ""
    if loaded.imported:
        where = ", ".join(loaded.imported)
        lines = [f"Secrets not in the file (the ESC environment {where} may set them; unseen):"]
        return lines + [f"  {k}   # {loaded.purpose(k)}" for k in missing]
    lines = ["Secrets to set before `pulumi up`:"]
    lines += [f"  pulumi config set {to}--secret {k}   # {loaded.purpose(k)}" for k in missing]
    lines += [
        f"  (optional) pulumi config set {to}--secret {k}   # {SECRET_KEYS[k][1]}" for k in optional
    ]
    return lines


def format_plan(loaded: LoadedStack, plan: StackPlan, source: str) -> str:
    cfg = loaded.config
    found = findings(cfg, plan)
    lines = [headline(loaded, source, verdict(0, len(found)))]
    if loaded.imported:
        lines.append(
            f"Not seen: the ESC environment {', '.join(loaded.imported)} (`environment:`); ops "
            "plan reads only this file, so nothing that environment sets is checked here"
        )
    lines.append(f"Cluster: {_cluster_line(cfg)}")
    lines += _weights_lines(cfg)
    lines += _pool_lines(cfg, plan)
    lines += [cost_line(cfg)]
    lines += ["", *table_lines(_model_rows(plan, cfg))]
    lines += lora_lines(cfg, plan)
    lines += format_timing(cfg)[0]
    if found:
        lines += ["", "Cautions:"] + [f"  - {w}" for w in found]
    crs = custom_resource_lines(cfg)
    one = len(crs) == 1
    lines += ["", "Custom resources: " + crs[0] if one else "Custom resources:"]
    lines += [] if one else [f"  - {c}" for c in crs]
    lines += ["", *reach_lines(cfg)]
    secrets = secret_lines(loaded, source)
    lines += ["", *secrets] if secrets else []
    lines += ["", FOOTER]
    return "\n".join(lines)


def problem_report(source: str, issues: list[str]) -> str:
    """The verdict and every problem, each naming its key path."""
    return "\n".join([f"{verdict(len(issues), 0)} · {source}", *[f"  - {i}" for i in issues]])
