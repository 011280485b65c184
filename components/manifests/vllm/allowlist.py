"""The route allowlist in front of vLLM: HAProxy as a native sidecar of the model's pod.

vLLM's API key guards ``/v1`` (and in 0.32 ``/v2``, ``/inference``, ``/cohere``) only;
``/invocations`` generates without it and ``/tokenize``, ``/load``, ``/version``,
``/openapi.json`` and more answer anyone (components/data/vllm/<version>/routes.json). So vLLM
listens on the pod's loopback (``VLLM_LOOPBACK_PORT``) and HAProxy (``assets/allowlist.cfg``)
is the only way in, one port per caller: ``/v1/*`` without the runtime LoRA routes on the API
port, ``GET /metrics`` on the metrics port, ``GET /health`` on the health port; anything else
gets 403. The NetworkPolicy (network.py) admits each caller to its port only. Why a proxy and
not vLLM's ``--middleware``: docs/vllm-contract.md, "The route allowlist".
"""

from __future__ import annotations

import hashlib
from typing import Final

from components.config import ModelConfig, StackConfig
from components.contract import HEALTH_PORT, METRICS_PORT, VLLM_LOOPBACK_PORT, VLLM_PORT
from components.manifests.toolkit import Manifest, container_security_context, read_asset
from components.manifests.vllm.names import (
    HEALTH_PORT_NAME,
    HTTP_PORT_NAME,
    METRICS_PORT_NAME,
    metadata,
)

# Docker's official HAProxy image, the upstream release Debian 12 packages (2.6.12), which the
# live tier runs this configuration with. It runs as any UID and writes no file.
PROXY_IMAGE: Final = "haproxy:2.6.12"
CONTAINER_NAME: Final = "allowlist"
CONFIG_FILE: Final = "allowlist.cfg"
CONFIG_DIR: Final = "/usr/local/etc/haproxy"
CONFIG_VOLUME: Final = "allowlist"
CHECKSUM_ANNOTATION: Final = "vllm-platform.io/allowlist-config-sha256"
# What the proxy is given; a small fixed share beside vLLM's own requests.
PROXY_RESOURCES: Final[Manifest] = {
    "requests": {"cpu": "100m", "memory": "64Mi"},
    "limits": {"memory": "64Mi"},
}


def config_text() -> str:
    return read_asset(CONFIG_FILE)


def config_map_name(model: ModelConfig) -> str:
    return f"{model.name}-allowlist"


def config_map(cfg: StackConfig, model: ModelConfig) -> Manifest:
    """``<model>-allowlist``: the HAProxy configuration the sidecar reads."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(cfg, model, config_map_name(model)),
        "data": {CONFIG_FILE: config_text()},
    }


def config_checksum() -> str:
    """On the pod template, so that a changed configuration rolls the pods."""
    return hashlib.sha256(config_text().encode()).hexdigest()


def _env() -> list[Manifest]:
    binds = {
        "API_BIND": f":{VLLM_PORT}",
        "METRICS_BIND": f":{METRICS_PORT}",
        "HEALTH_BIND": f":{HEALTH_PORT}",
        "VLLM_UPSTREAM": f"127.0.0.1:{VLLM_LOOPBACK_PORT}",
    }
    return [{"name": k, "value": v} for k, v in binds.items()]


def sidecar(model: ModelConfig) -> Manifest:
    """The proxy as a native sidecar (an init container with ``restartPolicy: Always``): it is
    up before vLLM starts and is stopped only after vLLM has exited, so a draining server's
    answers still get out."""
    del model  # the same allowlist for every model
    return {
        "name": CONTAINER_NAME,
        "image": PROXY_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "restartPolicy": "Always",
        "command": ["haproxy", "-db", "-f", f"{CONFIG_DIR}/{CONFIG_FILE}"],
        "env": _env(),
        "ports": [
            {"name": HTTP_PORT_NAME, "containerPort": VLLM_PORT, "protocol": "TCP"},
            {"name": METRICS_PORT_NAME, "containerPort": METRICS_PORT, "protocol": "TCP"},
            {"name": HEALTH_PORT_NAME, "containerPort": HEALTH_PORT, "protocol": "TCP"},
        ],
        "resources": PROXY_RESOURCES,
        "volumeMounts": [{"name": CONFIG_VOLUME, "mountPath": CONFIG_DIR, "readOnly": True}],
        "securityContext": container_security_context(),
        # Restarted when the proxy stops answering; vLLM's own health is judged by vLLM's probes.
        "livenessProbe": {
            "tcpSocket": {"port": HEALTH_PORT_NAME},
            "periodSeconds": 15,
            "timeoutSeconds": 5,
            "failureThreshold": 4,
        },
        "readinessProbe": {
            "tcpSocket": {"port": HTTP_PORT_NAME},
            "periodSeconds": 5,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
    }


def config_volume(model: ModelConfig) -> Manifest:
    return {"name": CONFIG_VOLUME, "configMap": {"name": config_map_name(model)}}
