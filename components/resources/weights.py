"""WeightStore: the stack's Object Storage bucket and a key limited to it (pulumi-linode), for
models with ``weightSource.kind: objectStorage``.

The bucket's label and region are fixed by the config (``manifests/vllm/streamer.py``), so the
pure builders name them without an output; the key's halves (secret outputs) and the bucket's
S3 endpoint URL (from its ``s3_endpoint`` output) go into the namespace's
``weights-object-storage`` Secret, which the pods read by ``secretKeyRef``. The bucket alone has
a provider of its own that empties it before deleting it (docs/provider-semantics.md, "Object
Storage").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_linode as linode

from components.config import StackConfig
from components.manifests.toolkit import (
    WEIGHTS_SECRET_ACCESS_KEY,
    WEIGHTS_SECRET_ENDPOINT_KEY,
    WEIGHTS_SECRET_SECRET_KEY,
)
from components.manifests.vllm.streamer import (
    bucket_label,
    object_storage_region,
    s3_endpoint_url,
)

TYPE_TOKEN = "vllm-platform:infra:WeightStore"

# The stack's ``linode:`` keys, which the engine gives the default provider (pulumi/pulumi
# default_providers.go:143) and an explicit one only as arguments: every Provider argument but
# the two the bucket's provider fixes, by how Pulumi config reads it.
LINODE_TEXT_KEYS = (
    "apiCaPath",
    "apiVersion",
    "configPath",
    "configProfile",
    "objAccessKey",
    "uaPrefix",
    "url",
)
LINODE_SECRET_KEYS = ("objSecretKey", "token")
LINODE_BOOL_KEYS = (
    "disableInternalCache",
    "skipImplicitReboots",
    "skipInstanceDeletePoll",
    "skipInstanceReadyPoll",
    "skipLkeClusterDeletePoll",
)
LINODE_INT_KEYS = (
    "eventPollMs",
    "lkeEventPollMs",
    "lkeNodeReadyPollMs",
    "maxRetryDelayMs",
    "minRetryDelayMs",
)


@dataclass(frozen=True)
class WeightStoreArgs:
    label: str
    """The bucket's label (``bucket_label``); the key is named after it."""
    region: str
    """The LKE cluster's region (``object_storage_region``)."""
    protect: bool
    """Protect the bucket (production by default): deleting it drops every staged revision."""


def weight_store_args(cfg: StackConfig) -> WeightStoreArgs | None:
    """The component's arguments, or None when no model streams its weights."""
    if not any(m.streams_weights for m in cfg.models):
        return None
    return WeightStoreArgs(
        label=bucket_label(cfg), region=object_storage_region(cfg), protect=cfg.protected
    )


def _endpoint_url(label: str, s3_endpoint: str | None) -> str:
    """``s3_endpoint_url``, or the update stops with its message (a RunError: no traceback)
    before the Secret, the staging Job or a streamed server is written."""
    try:
        return s3_endpoint_url(s3_endpoint)
    except ValueError as e:
        raise pulumi.RunError(f"bucket {label}: {e}") from None


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def stack_linode_settings() -> dict[str, Any]:
    """The stack's ``linode:`` config as ``linode.Provider`` arguments, set keys only: unset,
    the provider reads its environment as the default provider does (``LINODE_TOKEN``: tfl
    ``linode/provider.go:174-179``). ``token``, ``objSecretKey`` and every key the stack keeps
    secret are secret Outputs, as the engine keeps them for the default provider
    (docs/provider-semantics.md, "Object Storage")."""
    config = pulumi.Config("linode")
    readers: list[tuple[tuple[str, ...], Callable[[str], Any]]] = [
        (LINODE_TEXT_KEYS, config.get),
        (LINODE_SECRET_KEYS, config.get_secret),
        (LINODE_BOOL_KEYS, config.get_bool),
        (LINODE_INT_KEYS, config.get_int),
    ]
    found: dict[str, Any] = {}
    for keys, read in readers:
        for key in keys:
            value = read(key)
            if value is not None and pulumi.runtime.is_config_secret(config.full_key(key)):
                value = pulumi.Output.secret(value)
            if value is not None:
                found[_snake(key)] = value
    return found


class WeightStore(pulumi.ComponentResource):
    """The bucket and its read-write key."""

    access_key: pulumi.Output[str]
    secret_key: pulumi.Output[str]
    endpoint_url: pulumi.Output[str]
    """``https://`` + the bucket's ``s3_endpoint`` (``s3_endpoint_url``: an empty or malformed
    output fails the update naming it)."""

    def __init__(
        self, name: str, args: WeightStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        # The bucket's only (the LKE cluster and the key keep the default provider): a delete
        # empties the bucket first, with a temporary key the provider makes for it (tfl
        # linode/objbucket/resource.go:282-327, linode/obj/helpers.go:237-277); without it
        # Linode refuses to delete a bucket that is not empty.
        emptying = linode.Provider(
            f"{name}-bucket-provider",
            obj_bucket_force_delete=True,
            obj_use_temp_keys=True,
            opts=pulumi.ResourceOptions(parent=self),
            **stack_linode_settings(),
        )
        bucket = linode.ObjectStorageBucket(
            f"{name}-bucket",
            label=args.label,
            region=args.region,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, provider=emptying),
        )
        key = linode.ObjectStorageKey(
            f"{name}-key",
            label=args.label,
            # A limited key: this bucket only (pulumi_linode object_storage_key.py:23-38).
            bucket_accesses=[
                linode.ObjectStorageKeyBucketAccessArgs(
                    bucket_name=bucket.label, region=bucket.region, permissions="read_write"
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        # The SDK marks only secretKey secret (object_storage_key.py:372); the id too here.
        self.access_key = pulumi.Output.secret(key.access_key)
        self.secret_key = pulumi.Output.secret(key.secret_key)
        # The endpoint depends on the account's endpoint type, so it is read, never derived.
        self.endpoint_url = bucket.s3_endpoint.apply(lambda host: _endpoint_url(args.label, host))
        self.register_outputs(
            {
                "access_key": self.access_key,
                "secret_key": self.secret_key,
                "endpoint_url": self.endpoint_url,
            }
        )

    @property
    def secret_values(self) -> Mapping[str, pulumi.Output[str]]:
        """The ``weights-object-storage`` Secret's values by key."""
        return {
            WEIGHTS_SECRET_ACCESS_KEY: self.access_key,
            WEIGHTS_SECRET_SECRET_KEY: self.secret_key,
            WEIGHTS_SECRET_ENDPOINT_KEY: self.endpoint_url,
        }
