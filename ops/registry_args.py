"""Argument parsing of `ops migrate` and `ops registry list`, kept free of psycopg so that
`python -m ops plan` does not pay for importing the database driver."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["DSN_ENV", "add_parsers"]

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
