"""The program's wiring: config -> cluster -> namespace -> one VllmDeployment per model -> registry.

Every step is a ComponentResource built from the validated ``StackConfig``; nothing here
computes manifests (the pure builders do) or talks to a database (the registry providers do).
"""

from __future__ import annotations

import pulumi

from components.capacity import plan_stack
from components.config import SECRET_KEYS, ConfigError, LoadedStack
from components.config_source import load_from_pulumi

__all__ = ["load_or_fail", "run"]


def load_or_fail() -> LoadedStack:
    """The validated config, or a RunError (no traceback) listing every problem at once."""
    try:
        loaded = load_from_pulumi()
    except ConfigError as exc:
        raise pulumi.RunError(
            "invalid vllm-platform configuration:\n" + "\n".join(f"  {i}" for i in exc.issues)
        ) from None
    missing = loaded.missing_secrets
    if missing:
        lines = [f"  pulumi config set --secret {k}   # {SECRET_KEYS[k][1]}" for k in missing]
        raise pulumi.RunError("secrets not set yet; set them with:\n" + "\n".join(lines))
    return loaded


def run() -> None:
    loaded = load_or_fail()
    cfg = loaded.config
    plan = plan_stack(cfg)

    pulumi.export("environment", cfg.environment)
    pulumi.export("namespace", cfg.namespace_name)
    pulumi.export("endpoints", {m.name: m.endpoint_url for m in plan.models})
