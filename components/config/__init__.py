"""Stack configuration: one frozen, validated ``StackConfig`` per stack.

Read from the ``vllm-platform:*`` keys of ``Pulumi.<stack>.yaml`` (by ``ops``) or of the running
stack (by ``__main__.py``), through ``source``; every error is a ``ConfigIssue`` naming the key
path as written (``models[1].image: ...``), all reported at once in one ``ConfigError``.

One module per section (``cluster``, ``registry``, ``network``, ``observability``,
``health_reporter``, ``model``, ``timing``), ``stack`` for cross-section checks, and ``types``,
``base``, ``secrets``, ``errors``, ``loading``, ``source``, the catalogs ``gpu_plans`` and
``images``. This package re-exports the names other layers use.
"""

from __future__ import annotations

from components.config.cluster import Autoscaler, ClusterConfig, GpuPool, SystemPool
from components.config.errors import ConfigError, ConfigIssue
from components.config.health_reporter import HealthReporterConfig
from components.config.loading import LoadedStack, load_stack_config
from components.config.model import (
    Architecture,
    Autoscaling,
    Ingress,
    ModelConfig,
    Resources,
    WeightCache,
)
from components.config.network import MonitoringPeer, NetworkConfig, PeerSelector
from components.config.observability import ObservabilityConfig
from components.config.registry import RegistryConfig
from components.config.secrets import SECRET_KEYS
from components.config.stack import StackConfig, endpoint_url
from components.config.timing import SizeClassSeconds, TimingConfig
from components.config.types import Environment, Precision
from components.contract import PROJECT, VLLM_PORT, image_is_pinned

__all__ = [
    "PROJECT",
    "SECRET_KEYS",
    "VLLM_PORT",
    "Architecture",
    "Autoscaler",
    "Autoscaling",
    "ClusterConfig",
    "ConfigError",
    "ConfigIssue",
    "Environment",
    "GpuPool",
    "HealthReporterConfig",
    "Ingress",
    "LoadedStack",
    "ModelConfig",
    "MonitoringPeer",
    "NetworkConfig",
    "ObservabilityConfig",
    "PeerSelector",
    "Precision",
    "RegistryConfig",
    "Resources",
    "SizeClassSeconds",
    "StackConfig",
    "SystemPool",
    "TimingConfig",
    "WeightCache",
    "endpoint_url",
    "image_is_pinned",
    "load_stack_config",
]
