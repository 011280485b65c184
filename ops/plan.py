"""`python -m ops plan --stack NAME [--file PATH] [--explain | --against REF]`: validate a stack
file offline and say, first line, whether it is sound (`OK`, `N cautions`, `N problems`).

The default report (``plan_report``) holds only what is true of the stack now: the cluster, the
GPU pool and its cost, the models, the findings, the time to ready, what the deploying machine
must reach and the secrets still to set. ``--explain`` (``plan_explain``) is the what-if
catalogue, ``--against REF`` (``plan_against``, ``plan_change``) what a change from a git ref
does. Exit 0 without problems (cautions included), 2 with problems (every one listed, with its
key path) or a bad argument or ref. No Pulumi CLI, no cloud.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from components.config import ConfigError
from components.config.source import StackFileError
from ops.common import CommandError, stack_file
from ops.plan_against import against_report
from ops.plan_explain import explain_lines
from ops.plan_report import findings, format_plan, headline, problem_report, verdict
from ops.stack import OfflineStack, load_path


def _load(path: Path) -> OfflineStack | list[str]:
    """The validated stack, or its problems."""
    try:
        return load_path(path)
    except StackFileError as exc:
        return [str(exc)]
    except ConfigError as exc:
        return [str(issue) for issue in exc.issues]


def main(args: argparse.Namespace) -> int:
    path = stack_file(args.stack, args.file)
    if args.against is not None and not args.against.strip():
        # An empty $BASE_REF would otherwise post the plain plan as "what the change does".
        raise CommandError("--against: give a git ref (a branch, tag or commit), got an empty one")
    if args.explain and args.against:
        raise CommandError("give --explain or --against, not both")
    stack = _load(path)
    if isinstance(stack, list):
        print(problem_report(path.name, stack))
        return 2
    if args.against:
        text, problems = against_report(stack, args.against)
        print(text)
        return 2 if problems else 0
    if args.explain:
        found = findings(stack.loaded.config, stack.plan)
        head = headline(stack.loaded, path.name, verdict(0, len(found)))
        listed = ["Cautions:", *(f"  - {f}" for f in found)] if found else []
        print("\n".join([head, *listed, *explain_lines(stack.loaded.config, path.name)]))
        return 0
    print(format_plan(stack.loaded, stack.plan, path.name))
    return 0
