"""EnvironmentNamespace: the stack's namespace, GPU quota, defaults, default-deny and Secrets.

Registers exactly ``components.manifests.namespace.environment_objects`` (secret values come
from the
Pulumi secrets passed in, never from the builder), every object with the cluster's provider.
The namespace itself is protected when the stack is (production by default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.config import StackConfig
from components.manifests.namespace import environment_objects
from components.manifests.toolkit import (
    API_KEY_SECRET,
    API_KEY_SECRET_KEY,
    HF_TOKEN_SECRET_KEY,
    WEIGHTS_SECRET,
    Manifest,
)
from components.resources.registration import child_name, register_child


@dataclass(frozen=True)
class EnvironmentNamespaceArgs:
    objects: Sequence[Manifest]
    """Exactly what is registered, the Namespace first: ``environment_objects`` with the
    secret values redacted (the real ones are ``api_key`` and ``hf_token``)."""
    protect: bool
    """Protect the namespace from deletion (production by default)."""
    provider: k8s.Provider
    api_key: pulumi.Input[str]
    hf_token: pulumi.Input[str] | None = None
    weights: Mapping[str, pulumi.Input[str]] | None = None
    """The ``weights-object-storage`` Secret's values by key when a model streams its weights
    (``WeightStore.secret_values``: the key's halves and the bucket's endpoint URL)."""


def environment_namespace_args(
    cfg: StackConfig,
    provider: k8s.Provider,
    api_key: pulumi.Input[str],
    hf_token: pulumi.Input[str] | None = None,
    weights: Mapping[str, pulumi.Input[str]] | None = None,
) -> EnvironmentNamespaceArgs:
    """The component's arguments for the stack's environment, built by the pure builders."""
    objects = environment_objects(cfg, redact_secrets=True, hf_token_set=hf_token is not None)
    return EnvironmentNamespaceArgs(
        objects=tuple(objects),
        protect=cfg.protected,
        provider=provider,
        api_key=api_key,
        hf_token=hf_token,
        weights=weights,
    )


class EnvironmentNamespace(pulumi.ComponentResource):
    """The environment's namespace and what every model in it relies on."""

    namespace: k8s.core.v1.Namespace
    namespace_name: pulumi.Output[str]
    api_key_secret_name: pulumi.Output[str]
    hf_token_secret_name: pulumi.Output[str] | None
    weights_secret: pulumi.Resource | None
    """The Object Storage key's Secret (None when no model streams): the staging Job and the
    streamed workloads wait for it."""

    def __init__(
        self, name: str, args: EnvironmentNamespaceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("vllm-platform:infra:EnvironmentNamespace", name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.provider)
        secret_values: dict[str, pulumi.Input[str]] = {API_KEY_SECRET_KEY: args.api_key}
        if args.hf_token is not None:
            secret_values[HF_TOKEN_SECRET_KEY] = args.hf_token
        if args.weights is not None:
            secret_values.update(args.weights)
        self.hf_token_secret_name = None
        self.weights_secret = None

        ns_obj, *rest = args.objects
        previous = f"{name}-{ns_obj['metadata']['name']}"  # the 0.1.0 name, kept as an alias
        self.namespace = k8s.core.v1.Namespace(
            child_name(name, ns_obj),
            metadata=ns_obj["metadata"],
            opts=pulumi.ResourceOptions.merge(
                k8s_opts,
                pulumi.ResourceOptions(protect=args.protect, aliases=[pulumi.Alias(name=previous)]),
            ),
        )
        self.namespace_name = self.namespace.metadata.name
        for obj in rest:
            string_data = None
            if obj["kind"] == "Secret":
                string_data = {key: secret_values[key] for key in obj["stringData"]}
            res = register_child(
                name,
                obj,
                k8s_opts,
                previous_name=f"{name}-{obj['metadata']['name']}",
                namespace=self.namespace_name,
                string_data=string_data,
            )
            if isinstance(res, k8s.core.v1.Secret):
                if obj["metadata"]["name"] == API_KEY_SECRET:
                    self.api_key_secret_name = res.metadata.name
                elif obj["metadata"]["name"] == WEIGHTS_SECRET:
                    self.weights_secret = res
                else:
                    self.hf_token_secret_name = res.metadata.name

        self.register_outputs(
            {
                "namespace_name": self.namespace_name,
                "api_key_secret_name": self.api_key_secret_name,
                "hf_token_secret_name": self.hf_token_secret_name,
            }
        )
