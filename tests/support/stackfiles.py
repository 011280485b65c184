"""The committed stack files, loaded (and optionally tweaked) the way the tests need them."""

from __future__ import annotations

import copy
import subprocess
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
    """Every committed ``Pulumi.<name>.yaml`` at the project root, by name (tests discover,
    never list). Committed: what git tracks, so a private stack file a user adds (e.g. the
    example copied to the root, as examples/Pulumi.local.yaml suggests) is not taken for one;
    outside a git checkout, every such file."""
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "--", "Pulumi.*.yaml"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        out = [p.name for p in ROOT.glob("Pulumi.*.yaml")]
    return sorted(n.removeprefix("Pulumi.").removesuffix(".yaml") for n in out if "/" not in n)


def with_reporter(cfg: StackConfig, **settings: Any) -> StackConfig:
    """``cfg`` with its ``healthReporter`` section set from snake_case ``settings`` (validated)."""
    from components.config import HealthReporterConfig

    return cfg.model_copy(update={"health_reporter": HealthReporterConfig(**settings)})


STACKS: tuple[str, ...] = tuple(committed_stacks())
"""The committed stacks, discovered from ``Pulumi.*.yaml`` (never listed by hand)."""


def committed_stack_files(*, examples: bool = False) -> list[Path]:
    """The committed stack files' paths (``examples``: and ``examples/Pulumi.*.yaml`` too)."""
    files = [ROOT / f"Pulumi.{name}.yaml" for name in committed_stacks()]
    return files + (sorted(ROOT.glob("examples/Pulumi.*.yaml")) if examples else [])
