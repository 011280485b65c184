"""The smoke-test Job: one small request to every replica once it is ready, each with a time
budget, so a server that is up but cannot answer fails ``pulumi up`` before the registry lists it.

The script is ``assets/smoke.sh``. The Job's name hashes the server's pod template, what would
replace the server (every replica down) and the Job (script included): any change to what is
served, a replacement of the server, or a change to the test is a fresh run. A Job that
failed carries ``pulumi.com/replaceUnready`` (the next ``up`` runs it again); finished Jobs are
kept (no TTL), as Pulumi's state still lists them.
"""

from __future__ import annotations

import hashlib
import json

from components.config import VLLM_PORT, ModelConfig, StackConfig
from components.config.images import CURL_IMAGE
from components.manifests.k8s_semantics import REPLACE_UNREADY_ANNOTATION, replacement_identity
from components.manifests.toolkit import (
    API_KEY_SECRET,
    API_KEY_SECRET_KEY,
    NON_ROOT_ID,
    Manifest,
    container_security_context,
    read_asset,
)
from components.manifests.vllm.names import (
    SMOKE_COMPONENT,
    headless_service_name,
    labels,
    metadata,
    workload_name,
)

# Two retries: the very first request after start may hit cold caches once; a model that is
# slow or failing three times in a row is not ready to be registered.
SMOKE_BACKOFF_LIMIT = 2
# Bounds all attempts together (retries back off 10 s, 20 s), image pull included.
SMOKE_ACTIVE_DEADLINE_SECONDS = 600

# Every replica answers, not whichever one the ClusterIP Service picks: a broken second replica
# must fail the test. The targets are the StatefulSet's per-pod DNS names
# (``<sts>-<i>.<headless svc>.<ns>.svc.cluster.local``, stable names:
# https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#stable-network-id), or,
# for a Deployment (no stable pod names), every address the headless Service resolves to: a
# headless Service's name has one A record per ready pod
# (https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#services). The
# Job runs only after Pulumi's await saw every replica ready, so fewer addresses than replicas
# is waited for (DNS caches), then a failure. Each replica gets its own time budget.
# ``nslookup`` is busybox's: the curl image is built on Alpine (curl/curl-container, Makefile:
# ``base=docker.io/alpine:...``, whose busybox has the applet); only dotted IPv4 answers after
# the first ``Name:`` line are taken, which fits both its old and new output formats.
SMOKE_DNS_WAIT_SECONDS = 60


def smoke_path(model: ModelConfig) -> str:
    return "/v1/chat/completions" if model.api == "chat" else "/v1/completions"


def smoke_dns_name(cfg: StackConfig, model: ModelConfig) -> str:
    """The headless Service's name: one A record per ready replica."""
    return f"{headless_service_name(model)}.{cfg.namespace_name}.svc.cluster.local"


def smoke_min_replicas(model: ModelConfig) -> int:
    """How many replicas exist when the test runs: ``replicas``, or with KEDA (which owns the
    count once the workload exists) its ``minReplicas``."""
    auto = model.active_autoscaling
    return auto.min_replicas if auto is not None else model.replicas


def smoke_targets(cfg: StackConfig, model: ModelConfig) -> list[str]:
    """The StatefulSet's per-pod DNS names ``<sts>-0..N-1.<headless>...``; empty for a
    Deployment or an autoscaled model, whose ready replicas (however many there are) are found
    through ``smoke_dns_name`` at run time, at least ``smoke_min_replicas`` of them.

    Replicas that start after the test (KEDA scale-ups) are not tested by it: they pass the
    same readiness probe, and the health reporter probes the model from then on."""
    if not model.uses_statefulset or model.autoscaled:
        return []
    domain = smoke_dns_name(cfg, model)
    return [f"{workload_name(model)}-{i}.{domain}" for i in range(model.replicas)]


def smoke_payloads(model: ModelConfig) -> list[str]:
    """One request per served name: the base model's (``--served-model-name``), then each LoRA
    adapter's (``--lora-modules``), every replica answering each."""
    names = [model.name, *(a.name for a in model.lora_adapters)]
    return [smoke_payload(model, name) for name in names]


def smoke_payload(model: ModelConfig, name: str) -> str:
    """A tiny deterministic request to the served model ``name``."""
    body: dict[str, object] = {"model": name, "max_tokens": 8, "temperature": 0}
    if model.api == "chat":
        body["messages"] = [{"role": "user", "content": "Reply with the single word: ready"}]
    else:
        body["prompt"] = "The capital of France is"
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def _job_spec(cfg: StackConfig, model: ModelConfig) -> Manifest:
    container: Manifest = {
        "name": "smoke-test",
        # A stock image, pinned; the script only needs curl and a POSIX shell.
        "image": CURL_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", "-c", read_asset("smoke.sh")],
        "env": [
            {
                "name": "VLLM_API_KEY",
                "valueFrom": {"secretKeyRef": {"name": API_KEY_SECRET, "key": API_KEY_SECRET_KEY}},
            },
            {"name": "SMOKE_TARGETS", "value": " ".join(smoke_targets(cfg, model))},
            {"name": "SMOKE_DNS_NAME", "value": smoke_dns_name(cfg, model)},
            {"name": "SMOKE_DNS_WAIT_SECONDS", "value": str(SMOKE_DNS_WAIT_SECONDS)},
            {"name": "SMOKE_REPLICAS", "value": str(smoke_min_replicas(model))},
            {"name": "SMOKE_PORT", "value": str(VLLM_PORT)},
            {"name": "SMOKE_PATH", "value": smoke_path(model)},
            # One JSON request per line (compact JSON has no newline).
            {"name": "SMOKE_PAYLOADS", "value": "\n".join(smoke_payloads(model))},
            {"name": "SMOKE_TIMEOUT_SECONDS", "value": f"{model.smoke_test_timeout_seconds:g}"},
        ],
        "resources": {
            "requests": {"cpu": "10m", "memory": "16Mi"},
            "limits": {"memory": "64Mi"},
        },
        "securityContext": container_security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    # No ttlSecondsAfterFinished: were the finished Job deleted, Pulumi's state would still list
    # it, `pulumi refresh` would drop it and the next `up` would re-create it (an unplanned second
    # run). A completed Job holds nothing; the next change replaces it, keeping a failed one's logs.
    return {
        "backoffLimit": SMOKE_BACKOFF_LIMIT,
        "activeDeadlineSeconds": SMOKE_ACTIVE_DEADLINE_SECONDS,
        "template": {
            "metadata": {"labels": labels(cfg, model, SMOKE_COMPONENT)},
            "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": NON_ROOT_ID,
                    "runAsGroup": NON_ROOT_ID,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [container],
                "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
            },
        },
    }


def smoke_job_name(model: ModelConfig, server: Manifest, job_spec: Manifest) -> str:
    """``<model>-smoke-<8 hex>``: the hash of what is served (the server's pod template, and
    what would replace the workload: a replacement takes every replica down, so it is a new
    rollout with a new test) and of the test (<= 55 chars)."""
    served = {
        "server": server["spec"]["template"],
        "replaced_by": replacement_identity(server),
        "test": job_spec,
    }
    digest = hashlib.sha256(json.dumps(served, sort_keys=True).encode()).hexdigest()
    return f"{model.name}-smoke-{digest[:8]}"


def smoke_job(cfg: StackConfig, model: ModelConfig, server: Manifest) -> Manifest:
    """The Job testing ``server`` (the model's StatefulSet or Deployment)."""
    spec = _job_spec(cfg, model)
    name = smoke_job_name(model, server, spec)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        # A failed (or unfinished) Job is replaced on the next ``up``, which runs the test again;
        # without it the engine re-awaits the same failed Job forever (k8s_semantics).
        "metadata": metadata(
            cfg, model, name, SMOKE_COMPONENT, annotations={REPLACE_UNREADY_ANNOTATION: "true"}
        ),
        "spec": spec,
    }
