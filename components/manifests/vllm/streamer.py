"""``weightSource.kind: objectStorage``: the staging Job that copies the pinned revision from the
Hub into the stack's bucket once (``assets/stage_weights.py``, a marker object per revision),
its NetworkPolicy, and what a server streaming from the bucket gets instead of the
fetch-weights init container: the ``s3://`` model, ``--load-format runai_streamer`` and the
streamer's environment, endpoint and credentials by ``secretKeyRef`` only
(docs/time-to-ready.md).
"""

from __future__ import annotations

from typing import Final

from components.config import ModelConfig, StackConfig
from components.manifests.k8s_semantics import REPLACE_UNREADY_ANNOTATION
from components.manifests.toolkit import (
    WEIGHTS_SECRET,
    WEIGHTS_SECRET_ACCESS_KEY,
    WEIGHTS_SECRET_ENDPOINT_KEY,
    WEIGHTS_SECRET_SECRET_KEY,
    Manifest,
    container_security_context,
    dns_egress,
    pod_security_context,
    read_asset,
    selector,
)
from components.manifests.vllm.args import hf_token_env, secret_env, server_args
from components.manifests.vllm.names import labels, metadata
from components.planning.timing import stage_budget_seconds

STAGE_COMPONENT: Final = "stage-weights"
STAGE_SCRIPT: Final = read_asset("stage_weights.py")
STAGE_BACKOFF_LIMIT: Final = 3
# The script holds one file at a time in /tmp: checkpoints ship in shards of a few GB.
STAGE_SCRATCH: Final = "32Gi"
LOAD_FORMAT: Final = "runai_streamer"


def weights_prefix(model: ModelConfig) -> str:
    """The revision's objects in the bucket: ``<org>/<repo>/<revision>`` (one per revision, so
    staging a new revision never touches the one replicas read)."""
    return f"{model.hf_model_id}/{model.revision}"


def weights_uri(model: ModelConfig, bucket: str) -> str:
    return f"s3://{bucket}/{weights_prefix(model)}/"


def bucket_label(cfg: StackConfig) -> str:
    """The stack's bucket (``StackConfig.bucket_label``): fixed by the config, so the builders
    know it without a resource's output."""
    return cfg.bucket_label


def object_storage_region(cfg: StackConfig) -> str:
    """The bucket's region: the LKE cluster's (the config refuses objectStorage otherwise)."""
    if cfg.cluster.region is None:
        raise ValueError("cluster.region: objectStorage needs the cluster's region")
    return cfg.cluster.region


def staged_copy(cfg: StackConfig, model: ModelConfig) -> tuple[str, str, str]:
    """Where ``model``'s revision is staged: (region, bucket, prefix)."""
    return (object_storage_region(cfg), bucket_label(cfg), weights_prefix(model))


def staged_copies(cfg: StackConfig) -> set[tuple[str, str, str]]:
    """Where the stack's streamed revisions are staged."""
    return {staged_copy(cfg, m) for m in cfg.models if m.streams_weights}


def bucket_replacements(cfg: StackConfig) -> list[str]:
    """The what-if line of the stack's bucket (none without a streamed model): its label is its
    identity (docs/provider-semantics.md, the ObjectStorageBucket row)."""
    if not any(m.streams_weights for m in cfg.models):
        return []
    line = (
        f"weightStore.bucket={bucket_label(cfg)}: a new label replaces the bucket: its staged "
        "copies are deleted with it, and every streamed revision is staged again from the Hub "
        "before its servers restart"
    )
    if cfg.protected:
        line += " (refused while protected: docs/operations.md, Stop streaming a model's weights)"
    return [line]


def s3_endpoint_url(s3_endpoint: str | None) -> str:
    """``AWS_ENDPOINT_URL`` from the bucket's ``s3_endpoint`` output, a bare hostname that
    depends on the account's endpoint type (docs/provider-semantics.md, "Object Storage"); a
    missing or malformed one is an error, never ``https://`` alone or a guessed host."""
    host = (s3_endpoint or "").strip().removeprefix("https://").rstrip("/")
    if not host or "/" in host or ":" in host or any(c.isspace() for c in host):
        raise ValueError(
            "ObjectStorageBucket s3_endpoint: expected the bucket's S3 hostname "
            f"(e.g. us-ord-10.linodeobjects.com), the provider returned {s3_endpoint!r}"
        )
    return f"https://{host}"


def stage_job_name(model: ModelConfig) -> str:
    """Fixed per model and revision: a new revision is a new Job; the same one never reruns."""
    return f"{model.name}-stage-{model.revision[:12]}"


def s3_env() -> list[Manifest]:
    """The S3 client's endpoint and the key's credentials, all by reference to the
    ``weights-object-storage`` Secret (the endpoint is the bucket's output). The listing needs
    ``AWS_ENDPOINT_URL`` (boto3); vLLM copies it to ``RUNAI_STREAMER_S3_ENDPOINT``."""
    return [
        secret_env("AWS_ENDPOINT_URL", WEIGHTS_SECRET, WEIGHTS_SECRET_ENDPOINT_KEY, optional=False),
        secret_env("AWS_ACCESS_KEY_ID", WEIGHTS_SECRET, WEIGHTS_SECRET_ACCESS_KEY, optional=False),
        secret_env(
            "AWS_SECRET_ACCESS_KEY", WEIGHTS_SECRET, WEIGHTS_SECRET_SECRET_KEY, optional=False
        ),
        # No instance metadata to ask on LKE; path-style addressing for an S3-compatible store.
        {"name": "AWS_EC2_METADATA_DISABLED", "value": "true"},
        {"name": "RUNAI_STREAMER_S3_USE_VIRTUAL_ADDRESSING", "value": "0"},
    ]


def streamer_env(model: ModelConfig) -> list[Manifest]:
    """The server's streamer settings: connections per rank from the plan's concurrency."""
    concurrency = str(model.weight_source.concurrency)
    return [{"name": "RUNAI_STREAMER_CONCURRENCY", "value": concurrency}, *s3_env()]


def streamer_args(model: ModelConfig, bucket: str) -> list[str]:
    """``server_args`` for a streamed model: the bucket's copy of the revision instead of the
    Hub id (the revision is in the path, so no ``--revision``), ``--load-format
    runai_streamer`` among the managed flags, the extra flags last."""
    args = server_args(model)
    managed = args[1 : len(args) - len(model.extra_args)]
    at = managed.index("--revision")
    del managed[at : at + 2]
    return [weights_uri(model, bucket), *managed, "--load-format", LOAD_FORMAT, *model.extra_args]


def _stage_container(model: ModelConfig, bucket: str) -> Manifest:
    return {
        "name": STAGE_COMPONENT,
        # The model's vLLM image: huggingface_hub, and boto3 with the streamer's s3 extra.
        "image": model.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python3", "-c", STAGE_SCRIPT],
        "env": [
            {"name": "MODEL_ID", "value": model.hf_model_id},
            {"name": "MODEL_REVISION", "value": model.revision},
            {"name": "WEIGHTS_BUCKET", "value": bucket},
            {"name": "WEIGHTS_PREFIX", "value": weights_prefix(model)},
            hf_token_env(model),
            *s3_env(),
            {"name": "HOME", "value": "/tmp"},
            {"name": "HF_HOME", "value": "/tmp/huggingface"},
            {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"},
            {"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"},
        ],
        "resources": {
            "requests": {"cpu": "1", "memory": "2Gi"},
            "limits": {"memory": "4Gi"},
        },
        "securityContext": container_security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def stage_job(cfg: StackConfig, model: ModelConfig, bucket: str) -> Manifest:
    """The Job copying the model's revision into ``bucket`` (skipped by its marker if there)."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        # A failed Job is replaced on the next ``up`` and copies again (k8s_semantics).
        "metadata": metadata(
            cfg,
            model,
            stage_job_name(model),
            STAGE_COMPONENT,
            annotations={REPLACE_UNREADY_ANNOTATION: "true"},
        ),
        "spec": {
            "backoffLimit": STAGE_BACKOFF_LIMIT,
            # A hung copy fails the Job (Failed=True), so Pulumi's await ends before its timeout.
            "activeDeadlineSeconds": stage_budget_seconds(cfg.timing, model),
            "template": {
                "metadata": {"labels": labels(cfg, model, STAGE_COMPONENT)},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": pod_security_context(),
                    "containers": [_stage_container(model, bucket)],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": STAGE_SCRATCH}}],
                },
            },
        },
    }


def stage_network_policy(cfg: StackConfig, model: ModelConfig) -> Manifest:
    """The staging pods take no traffic and reach DNS and HTTPS (the Hub, Object Storage)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(cfg, model, f"{model.name}-stage", STAGE_COMPONENT),
        "spec": {
            "podSelector": {"matchLabels": selector(model.name, STAGE_COMPONENT)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [
                dns_egress(),
                {
                    "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
                    "ports": [{"protocol": "TCP", "port": 443}],
                },
            ],
        },
    }


def stage_objects(cfg: StackConfig, model: ModelConfig) -> list[Manifest]:
    """The staging policy and Job of a streamed model (none for a model fetching from the Hub),
    with the stack's bucket."""
    if not model.streams_weights:
        return []
    return [stage_network_policy(cfg, model), stage_job(cfg, model, bucket_label(cfg))]
