"""``healthReporter``: the in-cluster CronJob that keeps the registry's health_status true."""

from __future__ import annotations

import re
from typing import Final

from croniter import croniter
from pydantic import Field, field_validator

from components.config.base import ConfigModel
from components.config.images import CURL_IMAGE, PSQL_IMAGE
from components.config.types import ImageRef
from components.contract import image_is_pinned

_CRON_FIELD: Final = re.compile(r"^[0-9*/,\-]+$")


class HealthReporterConfig(ConfigModel):
    """How the reporter runs; every default lives here (the builders only read it)."""

    enabled: bool = Field(default=True, description="run the reporter")
    schedule: str = Field(
        default="* * * * *", description="five-field cron schedule, UTC (default: every minute)"
    )
    unhealthy_disables_routing: bool = Field(
        default=False,
        description="also turn routing off for an unhealthy model (never turned back on)",
    )
    timeout_seconds: int = Field(
        default=3,
        ge=1,
        le=10,
        description="curl --max-time per /health probe (runs must fit in a minute)",
    )
    failure_threshold: int = Field(
        default=3,
        ge=1,
        le=60,
        description=(
            "failed probes in a row before a model is marked unhealthy (one dropped probe is not)"
        ),
    )
    probe_image: ImageRef = Field(default=CURL_IMAGE, description="curl image (pinned)")
    psql_image: ImageRef = Field(default=PSQL_IMAGE, description="psql image (pinned)")

    @field_validator("schedule")
    @classmethod
    def _five_field_cron(cls, value: str) -> str:
        # Kubernetes' CronJob controller parses the standard five fields (robfig/cron
        # ParseStandard); croniter checks each field's range (minute 0-59, hour 0-23, ...).
        fields = value.split()
        if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
            raise ValueError(f"a five-field cron schedule, got {value!r}")
        for field in fields:
            for part in field.split(","):
                lo, dash, hi = part.split("/")[0].partition("-")
                if dash and lo.isdigit() and hi.isdigit() and int(lo) > int(hi):
                    raise ValueError(f"the range {lo}-{hi} runs backwards in {value!r}")
        if any(int(n) > 6 for n in re.findall(r"[0-9]+", fields[4].split("/")[0])):
            raise ValueError(f"weekdays are 0-6 for Kubernetes CronJobs, got {value!r}")
        if not croniter.is_valid(value):
            raise ValueError(
                f"a cron field is out of range in {value!r} (minute 0-59, hour 0-23, "
                "day 1-31, month 1-12, weekday 0-6)"
            )
        return value

    @field_validator("probe_image", "psql_image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if not image_is_pinned(value):
            raise ValueError(f"pin a version tag or digest, got {value!r}")
        return value
