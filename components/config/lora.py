"""``models[].loraAdapters``: LoRA adapters the base model's replicas serve, each routable by its
own name. What vLLM needs to hold them (``maxLoras`` slots of rank ``maxLoraRank``) is checked
against the pinned vLLM's parser contract; the adapters are fetched at their pinned revision
by the init container and served offline (docs/architecture.md, "LoRA adapters").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import Field, StringConstraints

from components.config.base import ConfigModel
from components.config.types import HfModelId, ModelName
from components.vllm_contract import VllmContract

Revision = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]


class LoraAdapter(ConfigModel):
    """One LoRA adapter of the base model: a routable model name of its own."""

    name: ModelName = Field(
        description="the model name clients send (and the registry entry's); a DNS label, "
        "unique across the stack's models and adapters"
    )
    hf_repo: HfModelId = Field(description="Hugging Face repository of the adapter, org/name")
    revision: Revision = Field(description="adapter revision; staging/production: a 40-hex commit")


def names_issue(model_name: str, adapters: Sequence[LoraAdapter]) -> tuple[str, str] | None:
    """An adapter whose name is the base model's or another adapter's, as ``(key, message)``."""
    seen: dict[str, str] = {model_name: "the base model's name"}
    for i, adapter in enumerate(adapters):
        if adapter.name in seen:
            return f"loraAdapters[{i}].name", f"{adapter.name!r} is already {seen[adapter.name]}"
        seen[adapter.name] = f"loraAdapters[{i}]"
    return None


def rank_issue(rank: int, contract: VllmContract) -> str | None:
    """A ``--max-lora-rank`` the pinned vLLM's parser refuses (it has ``choices`` from 0.12 on,
    components/data/vllm/v0.32.0/serve-args.json), else None."""
    option = contract.resolve("--max-lora-rank").option
    if option is None:
        return f"vLLM {contract.version} has no --max-lora-rank"
    if option.choices is not None and str(rank) not in option.choices:
        return f"vLLM {contract.version} accepts {', '.join(option.choices)}; got {rank}"
    return None
