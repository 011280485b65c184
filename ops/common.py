"""What every ops command shares: locating stack files and reporting errors without tracebacks."""

from __future__ import annotations

import sys
from pathlib import Path

from components.config.suggest import did_you_mean

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class CommandError(Exception):
    """A user-facing failure: printed as one message, exit code 2, never a traceback."""


def stack_file(stack: str | None, file: str | None) -> Path:
    if stack and file:
        # Which one would win is a guess; `--stack production --file staging's` must not
        # quietly plan or render staging under production's name.
        raise CommandError(f"give --stack {stack} or --file {file}, not both")
    if file:
        return Path(file)
    if not stack:
        raise CommandError("give --stack NAME (reads Pulumi.NAME.yaml) or --file PATH")
    if "/" in stack or "\\" in stack:
        raise CommandError(f"--stack {stack}: a stack name, not a path (use --file PATH)")
    path = PROJECT_ROOT / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = sorted(
            p.name[len("Pulumi.") : -len(".yaml")] for p in PROJECT_ROOT.glob("Pulumi.*.yaml")
        )
        hint = did_you_mean(stack, known)
        raise CommandError(f"no stack file {path.name}{hint}; stacks: {', '.join(known)}")
    return path


def eprint(*parts: object) -> None:
    print(*parts, file=sys.stderr)
