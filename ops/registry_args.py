"""Argument parsing of `ops migrate` and `ops registry list|expire-rollouts|adopt`, kept free
of psycopg so that `python -m ops plan` does not pay for importing the database driver."""

from __future__ import annotations

import argparse
from typing import Any

DSN_ENV = "VLLM_REGISTRY_DSN"
_ENVIRONMENTS = ("development", "staging", "production")


def add_parsers(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Register `migrate` and `registry list` on the `python -m ops` subparsers."""
    dsn_help = f"libpq DSN or URL of the registry database (default: ${DSN_ENV})"

    p = subparsers.add_parser("migrate", help="apply the registry's pending SQL migrations")
    p.add_argument("--dsn", help=dsn_help + "; connect as the owner user")
    p.set_defaults(handler="ops.registry_cli:migrate_main")

    p = subparsers.add_parser("registry", help="inspect the model registry")
    sub = p.add_subparsers(dest="registry_command", required=True, metavar="COMMAND")
    lst = sub.add_parser("list", help="print the registry entries as a table")
    lst.add_argument("--dsn", help=dsn_help)
    lst.add_argument("--environment", choices=_ENVIRONMENTS, help="only this environment")
    lst.set_defaults(handler="ops.registry_cli:list_main")

    expire = sub.add_parser(
        "expire-rollouts",
        help="mark rollouts still rolling_out past their deadline rollout_failed (events recorded)",
    )
    expire.add_argument("--dsn", help=dsn_help + "; the writer or the owner user")
    expire.add_argument("--environment", choices=_ENVIRONMENTS, help="only this environment")
    expire.set_defaults(handler="ops.registry_cli:expire_main")

    adopt = sub.add_parser(
        "adopt",
        help="hand a registry entry over to another stack on purpose (recorded as 'adopted')",
        description="Only the owning stack's `pulumi up`/`destroy` may change or retire an "
        "entry. Use this to move a model between stacks or to follow a renamed stack.",
    )
    adopt.add_argument("--dsn", help=dsn_help + "; the writer or the owner user")
    adopt.add_argument("--environment", choices=_ENVIRONMENTS, required=True)
    adopt.add_argument("--model", required=True, help="the entry's model name")
    adopt.add_argument(
        "--owner", required=True, help="the new owner, <project>/<stack> (as `pulumi stack` shows)"
    )
    adopt.add_argument("--reason", required=True, help="why; stored in the audit event")
    adopt.set_defaults(handler="ops.registry_cli:adopt_main")
