"""The committed stack files, loaded (and optionally tweaked) the way the tests need them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from components.config import StackConfig, load_stack_config
from components.config.source import read_stack_file

ROOT = Path(__file__).resolve().parents[2]


def raw_stack(name: str) -> dict[str, Any]:
    """``Pulumi.<name>.yaml``'s project keys (prefix stripped), a private copy to mutate."""
    raw, _ = read_stack_file(ROOT / f"Pulumi.{name}.yaml")
    return copy.deepcopy(raw)


def stack_config(name: str, **cluster: Any) -> StackConfig:
    """The validated config of a committed stack, with ``cluster`` keys overridden."""
    raw, secrets = read_stack_file(ROOT / f"Pulumi.{name}.yaml")
    raw = copy.deepcopy(raw)
    raw["cluster"].update(cluster)
    return load_stack_config(raw, secrets).config


def committed_stacks() -> list[str]:
    """Every ``Pulumi.<name>.yaml`` at the project root, by name (tests discover, never list)."""
    return sorted(
        p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in ROOT.glob("Pulumi.*.yaml")
    )


def with_reporter(cfg: StackConfig, **settings: Any) -> StackConfig:
    """``cfg`` with its ``healthReporter`` section set from snake_case ``settings`` (validated)."""
    from components.config import HealthReporterConfig

    return cfg.model_copy(update={"health_reporter": HealthReporterConfig(**settings)})


def with_raw(name: str, **keys: Any) -> Any:
    """Validate ``Pulumi.<name>.yaml`` with top-level ``keys`` replaced (raises ConfigError)."""
    raw, secrets = read_stack_file(ROOT / f"Pulumi.{name}.yaml")
    raw = copy.deepcopy(raw)
    raw.update(keys)
    return load_stack_config(raw, secrets)


STACKS: tuple[str, ...] = tuple(committed_stacks())
"""The committed stacks, discovered from ``Pulumi.*.yaml`` (never listed by hand)."""
