"""The LoRA adapters in ``ops plan``: each model's adapters under it with their slots' memory and
how many slots fit, and in ``--against`` the adapters a change adds, removes or moves."""

from __future__ import annotations

from components.config import ModelConfig, StackConfig
from components.planning.capacity import StackPlan


def lora_lines(cfg: StackConfig, plan: StackPlan) -> list[str]:
    """``LoRA adapters:`` and one block per model that serves any; nothing when none does."""
    lines: list[str] = []
    for m in cfg.models:
        lora = plan.model(m.name).lora
        if lora is None:
            continue
        slots = f"{lora.slots} slot(s) of rank {lora.rank} (maxLoras, maxLoraRank)"
        if lora.slot_gib is not None and lora.total_gib is not None:
            slots += f", {lora.slot_gib:.2f} GiB each, {lora.total_gib:.2f} GiB of the KV cache"
        elif m.accelerator == "gpu":
            slots += "; their memory is unknown (set architecture.hiddenSize, intermediateSize)"
        if lora.most_slots is not None:
            slots += (
                f"; at most {lora.most_slots} fit beside {m.min_concurrent_sequences} "
                f"sequence(s) of {m.max_model_len} tokens"
            )
        lines.append(f"  {m.name}: {slots}")
        lines += [f"    - {a.name}: {a.hf_repo}@{a.revision}" for a in m.lora_adapters]
    return ["", "LoRA adapters (served by their model's replicas):", *lines] if lines else []


def adapter_note(old: ModelConfig, new: ModelConfig) -> str:
    """What a change does to a model's adapters (``""`` when nothing): each added, removed or at
    another revision; any of them changes the server's flags, so the replicas restart."""
    was = {a.name: a for a in old.lora_adapters}
    now = {a.name: a for a in new.lora_adapters}
    parts = []
    added = [n for n in now if n not in was]
    removed = [n for n in was if n not in now]
    moved = [n for n in now if n in was and now[n] != was[n]]
    if added:
        parts.append("adapters added: " + ", ".join(added))
    if removed:
        parts.append("adapters removed: " + ", ".join(removed))
    if moved:
        parts.append("adapters changed: " + ", ".join(moved))
    return "; ".join(parts)
