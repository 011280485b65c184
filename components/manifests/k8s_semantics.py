"""What pulumi-kubernetes does with the objects this program registers: facts the code relies on.

Pure data (no Pulumi import), read by the resources (timeouts), the builders (annotations),
``ops plan`` (what replaces what) and the tests over the program's registrations. Every fact
is cited, file and line, in docs/provider-semantics.md; the source read is pulumi-kubernetes at
``PK8S_SOURCE`` (the pinned 4.34.2 tag is not in the mirror used; the installed 4.34.2 wheel's
docstrings agree on every fact checked there).
"""

from __future__ import annotations

from typing import Any, Final

PK8S_SOURCE: Final = "pulumi/pulumi-kubernetes@94977969 (after v4.32.0)"

# provider/pkg/await/await.go:306-309 (create), :491-494 (update): 10 minutes unless the
# resource's customTimeouts (or the pulumi.com/timeoutSeconds annotation) say otherwise.
DEFAULT_AWAIT_SECONDS: Final = 600

# provider/pkg/metadata/annotations.go:33,36; the value must be exactly "true" (:96-101).
SKIP_AWAIT_ANNOTATION: Final = "pulumi.com/skipAwait"
# provider/pkg/provider/provider.go:1622-1643: in Diff, a Job that is not complete (failed, or
# still running) is replaced on the next update; for any other kind only a warning is logged.
REPLACE_UNREADY_ANNOTATION: Final = "pulumi.com/replaceUnready"

# Kinds with a built-in awaiter that honours customTimeouts (awaiters.go:184-243), and what it
# waits for. Kinds not listed (Namespace, ConfigMap, NetworkPolicy, PodDisruptionBudget,
# LimitRange, CronJob, every custom resource) are ready as soon as the API server accepts them.
AWAITED_KINDS: Final[dict[str, str]] = {
    "Deployment": "the new ReplicaSet available: Progressing=NewReplicaSetAvailable, Available",
    "StatefulSet": "every replica ready and updated: readyReplicas = replicas, revisions equal",
    "DaemonSet": "kstatus Current: every scheduled pod updated and available",
    "Job": "condition Complete=True (fails at once on Failed=True)",
    "Service": (
        "with a selector and a cluster IP: Endpoints settled (10 s without a change) with no "
        "not-ready address; no ready address is needed, so it does not prove the pods ready"
    ),
    "Ingress": "status.loadBalancer.ingress set and every backend Service has endpoints",
}
# Awaiters with a hard-coded limit that customTimeouts do not lengthen (awaiters.go:278-279 PVC,
# :320-321 ResourceQuota).
FIXED_AWAIT_SECONDS: Final[dict[str, int]] = {"PersistentVolumeClaim": 300, "ResourceQuota": 60}

# provider/pkg/provider/diff.go:23-38, 45-212: fields whose change replaces the object. The
# provider asks for delete-before-replace only when the new object keeps the old one's name
# and namespace (provider.go:1645-1658); a changed name (a smoke Job's hash, a renamed model or
# namespace) is created before the old object is deleted, at the end of the update. Secret and
# ConfigMap data is listed for a provider without enableSecretMutable / enableConfigMapMutable
# (diff.go:28-34); ours has both on.
ALWAYS_REPLACE_FIELDS: Final = ("metadata.name", "metadata.namespace")
REPLACE_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "StatefulSet": (
        "spec.podManagementPolicy",
        "spec.revisionHistoryLimit",
        "spec.selector",
        "spec.serviceName",
        "spec.volumeClaimTemplates",
    ),
    "Deployment": ("spec.selector",),
    "DaemonSet": ("spec.selector",),
    "Job": ("spec.completions", "spec.parallelism", "spec.selector", "spec.template"),
    "Service": ("spec.clusterIP",),
    "PersistentVolumeClaim": (
        "spec.accessModes",
        "spec.selector",
        "spec.storageClassName",
        "spec.volumeName",
    ),
    "ResourceQuota": ("spec.scopes",),
}

# Storage classes whose volumes outlive their claims (``reclaimPolicy: Retain``): a deleted
# claim leaves a Released PersistentVolume and the Linode Volume behind it, still billed
# (linode/linode-blockstorage-csi-driver@def6be4 helm-chart/csi-driver/templates/
# linode-block-storage-retain.yaml:16, linode-block-storage-topology-aware-retain.yaml).
RETAINING_STORAGE_CLASSES: Final = frozenset(
    {"linode-block-storage-retain", "linode-block-storage-topology-aware-retain"}
)


def replacement_identity(obj: dict[str, Any]) -> dict[str, Any]:
    """What decides whether ``obj`` is replaced rather than updated: its kind, name, namespace
    and the values of its kind's ``REPLACE_FIELDS``. Two versions of an object with the same
    identity are updated in place; any difference replaces it."""
    kind = str(obj.get("kind", ""))
    meta = obj.get("metadata") or {}
    out: dict[str, Any] = {"kind": kind, "name": meta.get("name"), "ns": meta.get("namespace")}
    for path in REPLACE_FIELDS.get(kind, ()):
        value: Any = obj
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        out[path] = value
    return out


# Custom resources need their CRD before they are created: preview skips kinds the API server
# does not know (provider.go:1723-1736), ``up`` retries 5 times and then fails with "Verify that
# any required CRDs have been created" (provider.go:1821-1834; await.go:165-274).
CRD_PROVIDERS: Final[dict[str, str]] = {
    "monitoring.coreos.com": "the Prometheus operator (e.g. kube-prometheus-stack)",
    "keda.sh": "KEDA",
    "cert-manager.io": "cert-manager",
}


def _api_group(obj: dict[str, Any]) -> str:
    api_version = str(obj.get("apiVersion", ""))
    return api_version.rpartition("/")[0]


def crd_provider(obj: dict[str, Any]) -> str | None:
    """What installs the CRD of ``obj`` (None for built-in kinds)."""
    return CRD_PROVIDERS.get(_api_group(obj))


def awaits(obj: dict[str, Any]) -> bool:
    """Whether pulumi-kubernetes waits for ``obj`` with a timeout that customTimeouts set."""
    kind = str(obj.get("kind", ""))
    annotations = obj.get("metadata", {}).get("annotations") or {}
    if kind not in AWAITED_KINDS or annotations.get(SKIP_AWAIT_ANNOTATION) == "true":
        return False
    if kind == "Service":
        # service.go:385-409: headless, ExternalName or selector-less Services are ready at once.
        spec = obj.get("spec", {})
        return (
            bool(spec.get("selector"))
            and spec.get("clusterIP") != "None"
            and spec.get("type") != "ExternalName"
        )
    return True
