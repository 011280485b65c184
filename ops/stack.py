"""Load a stack file for the offline commands: validate it, plan it, build every manifest."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.config import ConfigError, LoadedStack
from components.config.source import StackFileError, load_from_stack_file
from components.manifests.stack import validate_stack
from components.planning.capacity import StackPlan
from ops.common import CommandError, stack_file


@dataclass(frozen=True)
class OfflineStack:
    path: Path
    loaded: LoadedStack
    plan: StackPlan
    objects: list[dict[str, Any]]


def load_path(path: Path) -> OfflineStack:
    """The stack file validated, planned and rendered. Building the manifests too means what
    the builders reject fails here, not in preview. Raises ``StackFileError`` (unreadable) or
    ``ConfigError`` (every problem, each with its key path)."""
    loaded = load_from_stack_file(path)
    plan, objects = validate_stack(loaded)
    return OfflineStack(path=path, loaded=loaded, plan=plan, objects=objects)


def load_offline(args: argparse.Namespace) -> OfflineStack:
    """``--stack``/``--file`` through ``load_path``; every problem is a CommandError."""
    path = stack_file(args.stack, args.file)
    try:
        return load_path(path)
    except StackFileError as exc:
        raise CommandError(str(exc)) from None
    except ConfigError as exc:
        lines = "\n".join(f"  {issue}" for issue in exc.issues)
        raise CommandError(f"{path.name}: {len(exc.issues)} error(s):\n{lines}") from None
