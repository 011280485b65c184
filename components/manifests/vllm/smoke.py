"""The smoke-test Job: one small request to the model once it is ready, with a time budget.

Pulumi awaits a Job until it completes, so a model whose server is up but cannot answer (wrong
chat template, broken weights, far too slow) fails ``pulumi up`` before the registry lists it.
The Job is named ``<model>-smoke-<hash>``, the hash covering the server's pod template and the
test itself: any change to what is served gives a new Job (a fresh run), an unchanged model
keeps its completed Job and is not re-tested. A Job that failed (or never finished) carries
``pulumi.com/replaceUnready``, so the next ``up`` replaces it and runs the test again.

No ``ttlSecondsAfterFinished``: if Kubernetes deleted the finished Job, Pulumi's state would
still list it, ``pulumi refresh`` would drop it and the next ``up`` would re-create it (a second,
unplanned test run). The completed Job holds no resources; Pulumi deletes it when the next
change replaces it, so at most one Job per model exists and a failed one keeps its pod's logs.
"""

from __future__ import annotations

import hashlib
import json

from components.config import ModelConfig, StackConfig
from components.config.images import CURL_IMAGE
from components.manifests.k8s_semantics import REPLACE_UNREADY_ANNOTATION
from components.manifests.toolkit import API_KEY_SECRET, API_KEY_SECRET_KEY
from components.manifests.vllm.names import (
    SMOKE_COMPONENT,
    Manifest,
    labels,
    metadata,
)
from components.manifests.vllm.workload import NON_ROOT_ID, container_security_context

__all__ = [
    "SMOKE_ACTIVE_DEADLINE_SECONDS",
    "SMOKE_BACKOFF_LIMIT",
    "SMOKE_IMAGE",
    "smoke_job",
    "smoke_job_name",
    "smoke_payload",
    "smoke_url",
]

# A stock image, pinned; the script only needs curl and a POSIX shell.
SMOKE_IMAGE = CURL_IMAGE
# Two retries: the very first request after start may hit cold caches once; a model that is
# slow or failing three times in a row is not ready to be registered.
SMOKE_BACKOFF_LIMIT = 2
# Bounds all attempts together (retries back off 10 s, 20 s), image pull included.
SMOKE_ACTIVE_DEADLINE_SECONDS = 600

_SCRIPT = """\
set -u
umask 077
printf 'Authorization: Bearer %s\\n' "$VLLM_API_KEY" > /tmp/auth
status=$(curl --silent --show-error --max-time "$SMOKE_TIMEOUT_SECONDS" \\
  --header @/tmp/auth --header 'Content-Type: application/json' \\
  --data "$SMOKE_PAYLOAD" --output /tmp/body --write-out '%{http_code} %{time_total}' \\
  "$SMOKE_URL")
rc=$?
cat /tmp/body 2>/dev/null; echo
if [ "$rc" -ne 0 ]; then
  echo "smoke test FAILED: curl exit $rc (28: no answer within ${SMOKE_TIMEOUT_SECONDS}s)"
  exit 1
fi
code=${status%% *}
if [ "$code" != "200" ]; then
  echo "smoke test FAILED: HTTP $code from $SMOKE_URL (time ${status#* }s)"
  exit 1
fi
echo "smoke test passed: HTTP 200 in ${status#* }s (budget ${SMOKE_TIMEOUT_SECONDS}s)"
"""


def smoke_url(cfg: StackConfig, model: ModelConfig) -> str:
    path = "/chat/completions" if model.api == "chat" else "/completions"
    return cfg.endpoint_url(model.name) + path


def smoke_payload(model: ModelConfig) -> str:
    """A tiny deterministic request; the served name must answer (``--served-model-name``)."""
    body: dict[str, object] = {"model": model.name, "max_tokens": 8, "temperature": 0}
    if model.api == "chat":
        body["messages"] = [{"role": "user", "content": "Reply with the single word: ready"}]
    else:
        body["prompt"] = "The capital of France is"
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def _job_spec(cfg: StackConfig, model: ModelConfig) -> Manifest:
    container: Manifest = {
        "name": "smoke-test",
        "image": SMOKE_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", "-c", _SCRIPT],
        "env": [
            {
                "name": "VLLM_API_KEY",
                "valueFrom": {"secretKeyRef": {"name": API_KEY_SECRET, "key": API_KEY_SECRET_KEY}},
            },
            {"name": "SMOKE_URL", "value": smoke_url(cfg, model)},
            {"name": "SMOKE_PAYLOAD", "value": smoke_payload(model)},
            {"name": "SMOKE_TIMEOUT_SECONDS", "value": f"{model.smoke_test_timeout_seconds:g}"},
        ],
        "resources": {
            "requests": {"cpu": "10m", "memory": "16Mi"},
            "limits": {"memory": "64Mi"},
        },
        "securityContext": container_security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
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


def smoke_job_name(model: ModelConfig, server_template: Manifest, job_spec: Manifest) -> str:
    """``<model>-smoke-<8 hex>``: the hash of what is served and of the test (<= 55 chars)."""
    digest = hashlib.sha256(
        json.dumps({"server": server_template, "test": job_spec}, sort_keys=True).encode()
    ).hexdigest()
    return f"{model.name}-smoke-{digest[:8]}"


def smoke_job(cfg: StackConfig, model: ModelConfig, server_template: Manifest) -> Manifest:
    spec = _job_spec(cfg, model)
    name = smoke_job_name(model, server_template, spec)
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
