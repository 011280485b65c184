"""`python -m ops history`: list a stack's updates (from the Pulumi CLI or a history file)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ops import automation
from ops.common import CommandError
from ops.history import format_history, history_rows, load_history_file

HISTORY_FILE_HINT = (
    "read a saved history with --history-file FILE (the output of `pulumi stack history "
    "--json --show-secrets --page-size 1000`)"
)


def main(args: argparse.Namespace) -> int:
    stack = str(args.stack or "")
    if args.history_file:
        updates, _ = load_history_file(Path(args.history_file))
        stack = stack or Path(args.history_file).name
    else:
        if not stack:
            raise CommandError("give --stack NAME (reads the stack's history with the Pulumi CLI)")
        pulumi_stack = automation.open_stack(stack, offline=HISTORY_FILE_HINT)
        updates, _ = automation.fetch_history(pulumi_stack)
    if args.json:
        print(json.dumps(history_rows(updates), indent=2))
    else:
        print(format_history(updates, stack))
    return 0
