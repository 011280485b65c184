"""The health reporter's Kubernetes objects as plain dicts (pure builders, no Pulumi).

A CronJob that probes each model's ``/health`` every minute (the ``probe`` init container, curl)
and records the results in the registry as the writer role (the ``report`` container, psql, the
only one that mounts the password). The scripts are ``assets/reporter.sh`` and
``assets/report.sql``; why a CronJob: docs/architecture.md, "Health reporter".
"""

from __future__ import annotations

import re
from typing import Final

from components.config import PROJECT, StackConfig
from components.contract import COMPONENT_LABEL, HEALTH_PORT, SERVER_COMPONENT
from components.manifests.toolkit import (
    REDACTED,
    Manifest,
    container_security_context,
    dns_egress,
    metadata,
    opaque_secret,
    pod_security_context,
    read_asset,
    selector,
    standard_labels,
)

COMPONENT: Final = "health-reporter"
"""Pods with this ``app.kubernetes.io/component`` may reach the vLLM pods (their policy)."""
CRONJOB_NAME: Final = "health-reporter"
CONFIG_MAP_NAME: Final = "health-reporter"
SECRET_NAME: Final = "health-reporter-registry"
NETWORK_POLICY_NAME: Final = "health-reporter"
PASSWORD_KEY: Final = "password"
SCRIPT_KEY: Final = "reporter.sh"
SQL_KEY: Final = "report.sql"
MODELS_KEY: Final = "models"
ROOT_CERT_KEY: Final = "root.crt"


CONFIG_DIR: Final = "/etc/health-reporter"
RESULTS_DIR: Final = "/results"
SECRET_DIR: Final = "/var/run/secrets/registry"
TMP_DIR: Final = "/tmp"
APPLICATION_NAME: Final = "vllm-platform-health-reporter"
# A run must end before the next one is due (concurrencyPolicy Forbid would skip it otherwise).
RUN_DEADLINE_SECONDS: Final = 50
PSQL_CONNECT_TIMEOUT_SECONDS: Final = 5
PSQL_STATEMENT_TIMEOUT_MS: Final = 5000
PSQL_LOCK_TIMEOUT_MS: Final = 2000
# Probes in flight at once (a sliding window): 100 models with 10 % hanging for the whole
# timeout finish well inside RUN_DEADLINE_SECONDS (bench/health_reporter.py measures it).
PROBE_PARALLELISM: Final = 16

_CRON_FIELD = re.compile(r"^[0-9*/,\-]+$")


def health_url(cfg: StackConfig, model: str) -> str:
    """``http://<model>.<ns>.svc.cluster.local:8003/health``: the Service (not a pod), on the
    route allowlist's health port, the only one of the model's ports the reporter may reach."""
    return f"http://{model}.{cfg.namespace_name}.svc.cluster.local:{HEALTH_PORT}/health"


def models_file(cfg: StackConfig) -> str:
    """One ``<name> <health url>`` line per model of the environment."""
    return "".join(f"{m.name} {health_url(cfg, m.name)}\n" for m in cfg.models)


def _labels(cfg: StackConfig, name: str) -> dict[str, str]:
    return standard_labels(name, COMPONENT, cfg.environment)


def _metadata(cfg: StackConfig, name: str) -> Manifest:
    return metadata(name, cfg.namespace_name, _labels(cfg, name))


def config_map(cfg: StackConfig) -> Manifest:
    data = {
        SCRIPT_KEY: read_asset("reporter.sh"),
        SQL_KEY: read_asset("report.sql"),
        MODELS_KEY: models_file(cfg),
    }
    # The registry's CA (``registry.sslRootCert``): one CA for every client of the registry.
    root_cert = cfg.registry.ssl_root_cert_pem
    if root_cert is not None:
        data[ROOT_CERT_KEY] = root_cert
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(cfg, CONFIG_MAP_NAME),
        "data": data,
    }


def registry_secret(cfg: StackConfig, writer_password: str = REDACTED) -> Manifest:
    """The writer role's password; the rest of the connection is plain env on the container."""
    return opaque_secret(_metadata(cfg, SECRET_NAME), {PASSWORD_KEY: writer_password})


def _ssl_root_cert(cfg: StackConfig) -> str | None:
    if cfg.registry.ssl_root_cert_pem is not None:
        return f"{CONFIG_DIR}/{ROOT_CERT_KEY}"
    if cfg.registry.sslmode == "verify-full":
        return "system"
    # verify-ca without a CA is refused by the config (RegistryConfig): no system default.
    return None


def default_owner(cfg: StackConfig) -> str:
    """The owner ``ops render``/``ops plan`` assume, ``<project>/<environment>``: they read only
    the config, which does not know the stack's name. The program passes its real owner
    (``owner_stack_name()``); for the committed stacks (named after their environment) the two
    are the same."""
    return f"{PROJECT}/{cfg.environment}"


def _env(pairs: dict[str, str]) -> list[Manifest]:
    return [{"name": k, "value": v} for k, v in pairs.items()]


def _resources() -> Manifest:
    # curl and psql are small; up to PROBE_PARALLELISM curls run at once in the probe step.
    return {
        "requests": {"cpu": "10m", "memory": "32Mi"},
        "limits": {"cpu": "200m", "memory": "128Mi"},
    }


def _container(
    name: str, image: str, env: dict[str, str], mounts: list[Manifest], res: Manifest
) -> Manifest:
    """Container ``name`` runs ``reporter.sh <name>`` (the step is the container's name)."""
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", f"{CONFIG_DIR}/{SCRIPT_KEY}", name],
        "env": _env(env),
        "resources": res,
        "securityContext": container_security_context(),
        "volumeMounts": mounts,
    }


def _probe_env(cfg: StackConfig) -> dict[str, str]:
    """What both steps read: where the files are, the probe timeout and parallelism."""
    return {
        "HR_CONFIG_DIR": CONFIG_DIR,
        "HR_RESULTS_DIR": RESULTS_DIR,
        "HR_TIMEOUT_SECONDS": str(cfg.health_reporter.timeout_seconds),
        "HR_PARALLEL": str(PROBE_PARALLELISM),
        "HOME": TMP_DIR,
    }


def _libpq_env(cfg: StackConfig) -> dict[str, str]:
    """psql's connection to the registry as the writer role (the password is a file)."""
    reg = cfg.registry
    libpq = {
        "PGHOST": reg.cluster_host or reg.host,  # the reporter runs in the cluster
        "PGPORT": str(reg.port),
        "PGDATABASE": reg.database,
        "PGUSER": cfg.writer_role,
        "PGSSLMODE": reg.sslmode,
        "PGCONNECT_TIMEOUT": str(PSQL_CONNECT_TIMEOUT_SECONDS),
        "PGAPPNAME": APPLICATION_NAME,
    }
    root_cert = _ssl_root_cert(cfg)
    if root_cert is not None:
        libpq["PGSSLROOTCERT"] = root_cert
    return libpq


def _report_env(cfg: StackConfig, owner: str | None) -> dict[str, str]:
    settings = cfg.health_reporter
    return {
        **_probe_env(cfg),
        "HR_ENVIRONMENT": cfg.environment,
        "HR_OWNER": owner if owner is not None else default_owner(cfg),
        "HR_DISABLE_ROUTING": "true" if settings.unhealthy_disables_routing else "false",
        "HR_FAILURE_THRESHOLD": str(settings.failure_threshold),
        "HR_STATEMENT_TIMEOUT_MS": str(PSQL_STATEMENT_TIMEOUT_MS),
        "HR_LOCK_TIMEOUT_MS": str(PSQL_LOCK_TIMEOUT_MS),
        "HR_PASSWORD_FILE": f"{SECRET_DIR}/{PASSWORD_KEY}",
        **_libpq_env(cfg),
    }


def _volumes() -> list[Manifest]:
    return [
        {"name": "config", "configMap": {"name": CONFIG_MAP_NAME, "defaultMode": 0o444}},
        # Group-readable: the files belong to root and the pod's fsGroup.
        {
            "name": "registry-password",
            "secret": {"secretName": SECRET_NAME, "defaultMode": 0o440},
        },
        {"name": "results", "emptyDir": {"sizeLimit": "1Mi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}},
    ]


def pod_spec(cfg: StackConfig, owner: str | None = None) -> Manifest:
    """``owner``: the stack (``<project>/<stack>``) whose entries the reporter may write
    (``HR_OWNER``); default ``default_owner(cfg)``."""
    settings = cfg.health_reporter
    shared_mounts: list[Manifest] = [
        {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
        {"name": "results", "mountPath": RESULTS_DIR},
        {"name": "tmp", "mountPath": TMP_DIR},
    ]
    password_mount: Manifest = {
        "name": "registry-password",
        "mountPath": SECRET_DIR,
        "readOnly": True,
    }
    res = _resources()
    probe = _container("probe", settings.probe_image, _probe_env(cfg), shared_mounts, res)
    report = _container(
        "report",
        settings.psql_image,
        _report_env(cfg, owner),
        [*shared_mounts, password_mount],
        res,
    )
    return {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(),
        "terminationGracePeriodSeconds": 10,
        "initContainers": [probe],
        "containers": [report],
        "volumes": _volumes(),
    }


def cron_job(cfg: StackConfig, owner: str | None = None) -> Manifest:
    settings = cfg.health_reporter
    pod_labels = _labels(cfg, CRONJOB_NAME)
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": _metadata(cfg, CRONJOB_NAME),
        "spec": {
            "schedule": settings.schedule,
            "timeZone": "Etc/UTC",
            # Never two runs at once; a run that is not started within 30 s of its time is
            # skipped (the next one is a minute away) and does not count towards the
            # controller's 100-missed-schedules limit.
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 30,
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    # No retries: the next scheduled run is the retry.
                    "backoffLimit": 0,
                    "activeDeadlineSeconds": RUN_DEADLINE_SECONDS,
                    "ttlSecondsAfterFinished": 3600,
                    "template": {
                        "metadata": {"labels": pod_labels},
                        "spec": pod_spec(cfg, owner),
                    },
                },
            },
        },
    }


def network_policy(cfg: StackConfig) -> Manifest:
    """The reporter's pods: no ingress; egress to DNS, the vLLM pods and the registry only.

    The registry host may be a DNS name (its address is unknown here), so egress to it is
    allowed by port to any address; the vLLM pods' own policy admits this component.
    """
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(cfg, NETWORK_POLICY_NAME),
        "spec": {
            "podSelector": {"matchLabels": selector(CRONJOB_NAME, COMPONENT)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [
                dns_egress(),
                {
                    "to": [{"podSelector": {"matchLabels": {COMPONENT_LABEL: SERVER_COMPONENT}}}],
                    # The route allowlist's health port: GET /health and nothing else.
                    "ports": [{"protocol": "TCP", "port": HEALTH_PORT}],
                },
                {
                    "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
                    "ports": [{"protocol": "TCP", "port": cfg.registry.port}],
                },
            ],
        },
    }


def health_reporter_objects(
    cfg: StackConfig, *, writer_password: str = REDACTED, owner: str | None = None
) -> list[Manifest]:
    """ConfigMap, Secret, NetworkPolicy and CronJob (none when ``healthReporter.enabled`` is
    off). ``owner``: the stack writing them (see ``pod_spec``); the reporter records health only
    on that stack's entries, so a canary or a copy cannot mark production's model unhealthy."""
    settings = cfg.health_reporter
    if not settings.enabled:
        return []
    # A model whose objects would share a kind and name with these is refused with its key
    # path by manifests/stack.py (_refuse_name_collisions), for ops plan and the program alike.
    return [
        config_map(cfg),
        registry_secret(cfg, writer_password),
        network_policy(cfg),
        cron_job(cfg, owner),
    ]
