"""What a change to the stack file replaces or restarts, and which custom resources it creates.

Standing cautions for ``ops plan`` (against the current stack file): each line names the key,
its current value, and what the providers do on a change (the facts are in k8s_semantics and
docs/provider-semantics.md). The cluster, pool and namespace lines are in ``lke.py``.
"""

from __future__ import annotations

from components.config import StackConfig
from components.manifests.k8s_semantics import CRD_PROVIDERS, RETAINING_STORAGE_CLASSES
from components.planning.model_checks import weight_cache_gi
from components.planning.transitions import create_first_line

# Keys that are part of the server's pod template: a change restarts every pod (one at a time,
# as the rollout strategy says) and the smoke test runs again (a new Job).
POD_TEMPLATE_KEYS = (
    "image",
    "hfModelId",
    "revision",
    "extraArgs",
    "maxModelLen",
    "gpuMemoryUtilization",
    "gpusPerReplica",
    "api",
    "resources",
    "startupTimeoutMinutes",
    "shmSizeGi",
    "cpuKvCacheSpaceGi",
    "accelerator",
    "gated",  # the HF_TOKEN secretKeyRef turns required or optional
)


def model_replacements(cfg: StackConfig) -> list[str]:
    """Per model: the keys whose change replaces its objects, and those that restart its pods."""
    out: list[str] = []
    for i, m in enumerate(cfg.models):
        at = f"models[{i}]"
        out.append(create_first_line(cfg, i))
        wc = m.weight_cache
        if m.uses_statefulset:
            size = weight_cache_gi(m)
            derived = (
                f" (derived from {at}.parametersBillions={m.parameters_billions:g} and the "
                f"checkpoint's dtype ({at}.checkpointPrecision, else the catalog's for "
                f"{at}.hfModelId): set {at}.weightCache.sizeGi to pin it)"
                if wc.size_gi is None
                else ""
            )
            out.append(
                f"{at}.weightCache.sizeGi={size}{derived}, {at}.weightCache.storageClass="
                f"{wc.storage_class}: the StatefulSet's volumeClaimTemplates are immutable; a "
                "change replaces it delete-first (fixed name): every replica down at once (the "
                "registry row says rolling_out first), its claims deleted (whenDeleted: Delete), "
                "the weights downloaded again" + _retained(wc.storage_class, "claim")
            )
        elif wc.mode == "shared":
            out.append(
                f"{at}.weightCache.storageClass={wc.storage_class}: replaces the shared claim "
                "delete-first; its deletion waits for every pod using it (pvc-protection)"
                + _retained(wc.storage_class, "claim")
            )
        keys = ", ".join(POD_TEMPLATE_KEYS)
        out.append(
            f"{at}: a change to {keys} restarts the pods ({m.replicas} replica(s), one at a "
            "time; a single replica means downtime) and runs the smoke test again"
        )
    if any(m.accelerator == "gpu" for m in cfg.models):
        pool = cfg.cluster.gpu
        out.append(
            f"cluster.gpuPool.nodeLabels={dict(pool.node_labels)}, cluster.gpuPool.taint="
            f"{str(pool.taint).lower()}: every GPU model's pods select and tolerate these; a "
            "change restarts every model's pods and runs every smoke test again"
        )
    return out


def _retained(storage_class: str, what: str) -> str:
    """What a deleted claim of ``storage_class`` leaves behind, and how to remove it."""
    if storage_class not in RETAINING_STORAGE_CLASSES:
        return ""
    return (
        f"; {storage_class} keeps the Linode Volume of every deleted {what} (and of a model "
        "removed from the stack), still billed: list them with `kubectl get pv` (STATUS "
        "Released, CLAIM in this namespace), then `kubectl delete pv NAME` and `linode-cli "
        "volumes delete ID` (ID: the number before the first dash of the PV's "
        "spec.csi.volumeHandle)"
    )


def registry_cautions(cfg: StackConfig) -> list[str]:
    """The roles this stack creates and drops, and what moves the registry's resources."""
    reg = cfg.registry
    server = f"{reg.host}:{reg.port}"
    out: list[str] = []
    if reg.manage_roles:
        out.append(
            f"registry roles {cfg.writer_role}, {cfg.reader_role} on {server} (server-wide): "
            "created with CREATE ROLE (fails if the role exists: import it), dropped by "
            "`pulumi destroy` (REASSIGN OWNED, DROP OWNED, DROP ROLE); a new name "
            "(registry.writerRole/readerRole, or a stack first deployed with the old defaults "
            "vllm_registry_writer/vllm_registry_reader) renames the role (ALTER ROLE ... "
            "RENAME): point the API router at the new reader name; PostgreSQL clears an MD5 "
            "password on rename; the Grants are replaced and deleting the old ones REVOKEs "
            "from the old name, expected to fail (remove them with `pulumi state delete`)"
        )
        out.append(
            f"registry.host/port/database/user ({server}/{reg.database} as {reg.user}): a change "
            "reconfigures the postgresql provider; the roles and grants are then managed on the "
            "new server (not verified against the real provider: check `pulumi preview`)"
        )
    out.append(
        f"registry.database={reg.database}: a new database replaces RegistrySchema (migrations "
        "run there; the old tables are kept)"
    )
    return out


def custom_resource_lines(cfg: StackConfig) -> list[str]:
    """Which custom resources the stack creates, and which CRDs (operators) they need."""
    c = cfg.cluster
    lines: list[str] = []
    prom = CRD_PROVIDERS["monitoring.coreos.com"]
    kinds = [
        k
        for k, on in (
            ("ServiceMonitor", cfg.service_monitors),
            ("PrometheusRule", cfg.prometheus_rules),
        )
        if on
    ]
    if kinds:
        lines.append(f"{', '.join(kinds)} per model: CRDs of {prom} (monitoring.coreos.com)")
    if not c.has_crds_of("prometheus_operator"):
        lines.append(
            f"no ServiceMonitor/PrometheusRule (no metrics scraping, no alerts): {prom} is not "
            "installed"
            + (" on a cluster this stack creates" if c.mode == "create" else "")
            + "; install it, then set cluster.installed.prometheusOperator: true"
        )
    scaled = [m.name for m in cfg.models if m.autoscaled]
    if scaled:
        lines.append(f"ScaledObject for {', '.join(scaled)}: CRD of KEDA (keda.sh)")
    for m in cfg.models:
        if m.ingress is not None:
            lines.append(
                f"Ingress for {m.name} (not a custom resource): needs an ingress controller "
                f"({m.ingress.class_name}) that publishes status.loadBalancer (Pulumi waits for "
                f"it, 10 min) and cert-manager's ClusterIssuer {m.ingress.cluster_issuer}"
            )
    if not lines:
        lines.append("none")
    return lines
