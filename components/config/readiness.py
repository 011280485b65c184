"""``models[].rollout`` and ``models[].weightSource``: the options that bring a model inside the
time-to-ready targets (#27). What each costs and what it saves: docs/time-to-ready.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from components.config.base import ConfigModel


class Rollout(ConfigModel):
    """What a rollout keeps for a rollback."""

    keep_previous: int = Field(
        default=0,
        ge=0,
        le=24 * 60,
        description=(
            "minutes the previous revision's replicas keep serving after a rollout, registered "
            "as the rollback target: a rollback inside the window is a registry and Service "
            "switch of seconds; costs the model's GPUs a second time during the window "
            "(0: off)"
        ),
    )


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
