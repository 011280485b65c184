"""The in-cluster health reporter: keeps the registry's health_status true between deploys."""

from components.health_reporter.component import HealthReporter, HealthReporterArgs
from components.health_reporter.manifests import (
    DEFAULT_PROBE_IMAGE,
    DEFAULT_PSQL_IMAGE,
    HealthReporterSettings,
    health_reporter_objects,
)

__all__ = [
    "DEFAULT_PROBE_IMAGE",
    "DEFAULT_PSQL_IMAGE",
    "HealthReporter",
    "HealthReporterArgs",
    "HealthReporterSettings",
    "health_reporter_objects",
]
