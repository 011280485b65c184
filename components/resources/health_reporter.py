"""``HealthReporter``: registers exactly the objects ``health_reporter_objects`` builds.

The builder runs with the password ``REDACTED``; the Secret is registered with the real value
(a secret Output) in its place and ``additional_secret_outputs`` so neither ``data`` nor
``stringData`` is stored in plain text in the state. Every object's ``metadata.namespace`` is
``args.namespace`` (pass ``EnvironmentNamespace.namespace_name``) so they wait for the namespace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.manifests.health_reporter import (
    CONFIG_MAP_NAME,
    CRONJOB_NAME,
    PASSWORD_KEY,
    SECRET_NAME,
)
from components.manifests.toolkit import Manifest
from components.resources.registration import register_child

TYPE_TOKEN = "vllm-platform:serving:HealthReporter"
# The 0.1.0 child names' suffixes, kept as aliases so live objects are adopted, not replaced.
_PREVIOUS_SUFFIX: dict[tuple[str, str], str] = {
    ("v1", "ConfigMap"): "config",
    ("v1", "Secret"): "registry-secret",
    ("networking.k8s.io/v1", "NetworkPolicy"): "network-policy",
    ("batch/v1", "CronJob"): "cronjob",
}


@dataclass(frozen=True)
class HealthReporterArgs:
    objects: Sequence[Manifest]
    """Exactly what is registered: ``health_reporter_objects(cfg)`` (empty when disabled); the
    Secret's password is replaced by ``writer_password``."""
    writer_password: pulumi.Input[str]
    """The registry writer role's password (``registryWriterPassword``), a secret Output."""
    namespace: pulumi.Input[str]
    """``EnvironmentNamespace.namespace_name``: the objects are created once it exists."""


def _previous_name(name: str, obj: Mapping[str, Any]) -> str | None:
    suffix = _PREVIOUS_SUFFIX.get((str(obj["apiVersion"]), str(obj["kind"])))
    return None if suffix is None else f"{name}-{suffix}"


class HealthReporter(pulumi.ComponentResource):
    """The per-environment CronJob that keeps the registry's health_status current."""

    cron_job_name: pulumi.Output[str]
    config_map_name: pulumi.Output[str]
    secret_name: pulumi.Output[str]
    enabled: pulumi.Output[bool]

    def __init__(
        self, name: str, args: HealthReporterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        objects = args.objects
        self.k8s_objects: dict[str, pulumi.CustomResource] = {}
        for obj in objects:
            secret = {PASSWORD_KEY: args.writer_password} if obj["kind"] == "Secret" else None
            self.k8s_objects[str(obj["kind"])] = register_child(
                name,
                obj,
                child,
                previous_name=_previous_name(name, obj),
                namespace=args.namespace,
                string_data=secret,
            )
        enabled = bool(objects)
        self.enabled = pulumi.Output.from_input(enabled)
        self.cron_job_name = pulumi.Output.from_input(CRONJOB_NAME if enabled else "")
        self.config_map_name = pulumi.Output.from_input(CONFIG_MAP_NAME if enabled else "")
        self.secret_name = pulumi.Output.from_input(SECRET_NAME if enabled else "")
        self.register_outputs(
            {
                "enabled": self.enabled,
                "cron_job_name": self.cron_job_name,
                "config_map_name": self.config_map_name,
                "secret_name": self.secret_name,
            }
        )
