"""`python -m ops COMMAND ...` — each command imports only what it needs, so `plan` stays fast."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from ops.common import CommandError, eprint
from ops.registry_args import add_parsers as add_registry_parsers


def build_parser() -> argparse.ArgumentParser:
    """The `python -m ops` argument parser (also read by tests/unit/test_docs.py)."""
    parser = argparse.ArgumentParser(prog="python -m ops", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_offline_parsers(sub)
    add_update_parsers(sub)
    add_registry_parsers(sub)
    return parser


def add_offline_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    """The commands that read only the stack files: plan, render, schema."""
    p = sub.add_parser(
        "plan",
        help="validate a stack file offline: verdict, plan, cost (exit 2 on problems)",
        description="Exit 0: no problems (cautions are fine); 2: problems, a bad argument or ref.",
    )
    p.add_argument("--stack", help="stack name: reads Pulumi.STACK.yaml")
    p.add_argument("--file", help="a stack file path instead of --stack")
    p.add_argument(
        "--explain", action="store_true", help="the what-if catalogue: what changing each key does"
    )
    p.add_argument(
        "--against",
        metavar="REF",
        help="what the change from the stack file at git ref REF to the working tree does",
    )
    p.set_defaults(handler="ops.plan:main")

    p = sub.add_parser("render", help="write every Kubernetes object of a stack as YAML files")
    p.add_argument("--stack", help="stack name: reads Pulumi.STACK.yaml")
    p.add_argument("--file", help="a stack file path instead of --stack")
    p.add_argument("--out", required=True, help="directory for the YAML files")
    p.set_defaults(handler="ops.render:main")

    p = sub.add_parser("schema", help="write (or --check) the JSON Schema of the stack files")
    p.add_argument("--out", default="schema/stack-config.schema.json")
    p.add_argument("--check", action="store_true", help="exit 1 when the file is out of date")
    p.add_argument(
        "--docs", action="store_true", help="regenerate the key reference in docs/configuration.md"
    )
    p.set_defaults(handler="ops.schema:main")


def add_update_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    """The commands that read or make a stack's updates: history, rollback, deploy."""
    p = sub.add_parser("history", help="list a stack's updates: result, git head, models, images")
    p.add_argument("--stack", help="stack name (read with the Pulumi CLI)")
    p.add_argument("--history-file", help="`pulumi stack history --json` output instead")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler="ops.history_command:main")

    p = sub.add_parser("rollback", help="restore the config of a succeeded update, then up")
    p.add_argument("--stack", help="stack name")
    p.add_argument("--to", required=True, type=int, metavar="VERSION", help="history version")
    p.add_argument("--yes", action="store_true", help="apply (pulumi up); default: plan+preview")
    p.add_argument(
        "--history-file", help="plan offline from `pulumi stack history --json --show-secrets`"
    )
    p.add_argument(
        "--restore-secret",
        action="append",
        metavar="KEY",
        help="also restore this secret from the history (repeatable); default: keep them all",
    )
    p.add_argument(
        "--registry-dsn",
        help="with --yes: flip the registry rows of models rolling back to their kept revision "
        "(rollout.keepPrevious) before the up; default: $VLLM_REGISTRY_DSN",
    )
    p.set_defaults(handler="ops.rollback_command:main")

    p = sub.add_parser(
        "deploy", help="preview and up a stack; --auto-rollback restores the last good version"
    )
    p.add_argument("--stack", required=True, help="stack name")
    p.add_argument("--yes", action="store_true", help="apply (pulumi up); default: preview only")
    p.add_argument(
        "--auto-rollback",
        action="store_true",
        help="on a failed update that changed resources, roll back to the last succeeded one",
    )
    p.add_argument(
        "--policy-pack", action="append", metavar="DIR", help="CrossGuard pack (repeatable)"
    )
    p.add_argument("--message", help="update message (default: names the git commit)")
    p.set_defaults(handler="ops.deploy:main")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module_name, func_name = str(args.handler).split(":")
    module = __import__(module_name, fromlist=[func_name])
    try:
        return int(getattr(module, func_name)(args))
    except CommandError as exc:
        eprint(f"error: {exc}")
        return 2
    except BrokenPipeError:
        # The reader stopped early (`ops plan | head -1`): no traceback, but no success either,
        # since the command did not finish (a plan's exit 2 for problems, a deploy midway): the
        # shell's status for a writer a closed pipe stopped, 128 + SIGPIPE. Point stdout at
        # devnull so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
