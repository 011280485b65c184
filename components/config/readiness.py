"""``models[].rollout``, ``models[].weightSource`` and ``weightStore``: the options that bring a
model inside the time-to-ready targets (#27). What each costs and saves: docs/time-to-ready.md.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Final, Literal, Self

from pydantic import BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from components.config.base import ConfigModel, path_error
from components.config.types import ImageRef, ModelRevision

# RFC 3339 section 5.6 ``date-time`` (a space for the T, as its note allows): Python's
# fromisoformat alone also takes ISO 8601's week and basic forms and offsets in seconds.
RFC_3339 = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def _instant(value: object) -> object:
    """An RFC 3339 instant with its offset, kept as the text the user wrote (quoted in the
    stack file: an unquoted YAML timestamp is no JSON value, refused by config/source.py)."""
    if not isinstance(value, str):
        return value
    try:
        parsed = datetime.fromisoformat(value) if RFC_3339.fullmatch(value) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise PydanticCustomError(
            "instant", "an RFC 3339 time with its offset, e.g. 2026-12-06T12:00:00Z"
        )
    return value


Instant = Annotated[str, BeforeValidator(_instant)]


class KeptRevision(ConfigModel):
    """The revision that served before the configured one and keeps serving beside it until
    ``until`` (blue/green): its replicas, built exactly as they were, stay up as the rollback
    target. docs/rollback.md "Rollback without a restart"."""

    image: ImageRef = Field(description="the image the previous revision served")
    revision: ModelRevision = Field(description="the model revision it served")
    until: Instant = Field(
        description=(
            "end of the window (RFC 3339, with offset): the first `pulumi up` after it removes "
            "the previous revision's replicas; the registry drops the rollback target then too"
        )
    )

    @property
    def until_time(self) -> datetime:
        return datetime.fromisoformat(self.until)


# The longest window: the registry names a rollback target for 1..1440 minutes (migration 0007,
# ``keep_previous``; registry/providers/previous.py clamps to it).
KEEP_PREVIOUS_MAX_MINUTES: Final = 24 * 60


class Rollout(ConfigModel):
    """What a rollout keeps for a rollback, and how it replaces the replicas."""

    keep_previous: int = Field(
        default=0,
        ge=0,
        le=KEEP_PREVIOUS_MAX_MINUTES,
        description=(
            "minutes the previous revision's replicas keep serving after a rollout, registered "
            "as the rollback target: a rollback inside the window is a registry and Service "
            "switch of seconds; costs the model's GPUs a second time during the window "
            "(0: off)"
        ),
    )
    previous: KeptRevision | None = Field(
        default=None,
        description=(
            "the revision kept serving during the window (needs keepPrevious): set it to the "
            "image and revision being replaced, with the window's end, in the change that "
            "rolls out the new one"
        ),
    )

    restart: Literal["oneAtATime", "allAtOnce"] = Field(
        default="oneAtATime",
        description=(
            "how a rollout or a rollback replaces the replicas: oneAtATime (the others keep "
            "serving; a rollback takes replicas x one pod's restart) or allAtOnce (every "
            "replica at once: a rollback takes one pod's restart, and the model serves "
            "nothing meanwhile: downtime). allAtOnce: production needs allowDowntime; a "
            "StatefulSet (weightCache.mode per-replica) needs cluster.k8sVersion 1.37 or later; "
            "not with keepPrevious"
        ),
    )

    @property
    def all_at_once(self) -> bool:
        return self.restart == "allAtOnce"

    @model_validator(mode="after")
    def _previous_needs_window(self) -> Self:
        if self.previous is not None and self.keep_previous == 0:
            raise path_error("previous", "needs keepPrevious > 0 (the window's length)")
        if self.all_at_once and self.keep_previous > 0:
            raise path_error(
                "restart",
                "allAtOnce with keepPrevious: inside the window a rollback is already a switch "
                "and a new revision starts beside the old one, so allAtOnce would only take "
                "every replica down on the other rollouts; set oneAtATime, or keepPrevious 0",
            )
        return self


class WeightSource(ConfigModel):
    """Where the replicas read the weights from."""

    kind: Literal["hub", "objectStorage"] = Field(
        default="hub",
        description=(
            "hub: the fetch-weights init container downloads the revision from the Hugging Face "
            "Hub onto the weight volume (default); objectStorage: a staging Job copies the "
            "pinned revision once per stack into the stack's Object Storage bucket and vLLM "
            "streams it to the GPUs (--load-format runai_streamer)"
        ),
    )
    concurrency: int = Field(
        default=16,
        ge=1,
        le=256,
        description=(
            "Run:ai streamer connections per rank (RUNAI_STREAMER_CONCURRENCY); every rank of "
            "every replica starting at once must stay under the account's connection limit "
            "per Object Storage endpoint (objectStorageConnectionLimit)"
        ),
    )


# Linode's bucket label rule (Linode API, ObjectStorageBucket ``label``: 3-63 characters, lower
# case letters, digits and dashes, a letter or digit at both ends; docs/provider-semantics.md).
BUCKET_LABEL = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")


def bucket_label_issue(label: str) -> str | None:
    """Why Linode would refuse ``label`` as a bucket label, or None."""
    if BUCKET_LABEL.fullmatch(label):
        return None
    return (
        f"{label!r} is no Linode bucket label: 3-63 characters, lower-case letters, digits "
        "and dashes, a letter or digit at both ends"
    )


class WeightStoreConfig(ConfigModel):
    """The stack's Object Storage bucket (made when a model has ``weightSource.kind:
    objectStorage``)."""

    bucket: str | None = Field(
        default=None,
        description=(
            "the bucket's label (default: vllm-platform-<namespace>-weights). Labels are unique "
            "per region across every Linode account: set one of your own if the default is "
            "taken or too long"
        ),
    )
