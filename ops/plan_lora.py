"""The LoRA adapters in ``ops plan``: each model's adapters under it with their slots' memory and
how many slots fit, and in ``--against`` the adapters a change adds, removes or moves and their
registry rows."""

from __future__ import annotations

from components.config import ModelConfig, StackConfig
from components.manifests.changes import ModelChange
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


def adapter_registry_lines(change: ModelChange, old: StackConfig, new: StackConfig) -> list[str]:
    """The registry rows of a changed model's adapters (one row each, migration 0008): added
    ones registered after the model's smoke test, removed ones retired, kept ones through the
    model's rollout with it."""
    base = change.name
    before = _model(old, change.renamed_from or base)
    after = _model(new, base) if change.status != "removed" else None
    was = {a.name: a for a in before.lora_adapters} if before is not None else {}
    now = {a.name: a for a in after.lora_adapters} if after is not None else {}
    lines: list[str] = []
    for name, adapter in now.items():
        what = f"{name} (adapter of {base})"
        if name not in was:
            lines.append(f"{what}: no row until {base}'s smoke test passes, then registered")
        elif change.renamed_from:
            lines.append(f"{what}: its base model was {change.renamed_from}; updated after the "
                         "smoke test")  # fmt: skip
        elif change.smoke_again:
            moved = f" at revision {adapter.revision}" if was[name] != adapter else ""
            lines.append(f"{what}: rolling_out with {base}, then healthy{moved}")
        elif change.routing:
            lines.append(f"{what}: routing_enabled {str(change.routing[1]).lower()}")
    for name in was:
        if name not in now:
            lines.append(f"{name} (adapter of {before.name if before else base}): retired "
                         "(routing off; the row and its events are kept)")  # fmt: skip
    return lines


def _model(cfg: StackConfig, name: str) -> ModelConfig | None:
    return next((m for m in cfg.models if m.name == name), None)
