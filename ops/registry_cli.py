"""`python -m ops migrate`, `python -m ops registry list|expire-rollouts|adopt`: the registry
outside Pulumi.

The DSN comes from ``--dsn`` or the ``VLLM_REGISTRY_DSN`` environment variable (preferred: a
password on the command line is visible to other users of the machine). Messages show the DSN
with its password masked. Exit codes: 0 ok, 2 bad input or the database unreachable.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC

import psycopg

from components.config.isolation import other_environment
from components.registry import rollouts, store
from components.registry.connection import RegistryConnectionError, connect, mask_dsn, scrub
from components.registry.migrate import MigrationError, load_migrations, migrate
from ops.common import CommandError
from ops.registry_args import DSN_ENV, add_parsers
from ops.table import table_lines


def _dsn(args: argparse.Namespace) -> str:
    dsn = args.dsn or os.environ.get(DSN_ENV, "")
    if not dsn.strip():
        raise CommandError(f"give --dsn DSN or set {DSN_ENV}")
    return str(dsn)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@contextmanager
def registry_errors(dsn: str) -> Iterator[None]:
    """The registry's failures as one-line ``CommandError``s, the DSN's password masked."""
    try:
        yield
    except RegistryConnectionError as exc:
        raise CommandError(str(exc)) from None  # names the masked DSN, never the password
    except MigrationError as exc:
        raise CommandError(scrub(str(exc), dsn)) from None
    except (
        psycopg.errors.UndefinedTable,
        psycopg.errors.UndefinedFunction,
        psycopg.errors.UndefinedColumn,
    ):
        # No registry, or one from before a migration the command needs (0006's functions,
        # 0008's adapter columns).
        raise CommandError(
            "the registry tables or functions do not exist here (a database not migrated, or "
            "migrated before this version); run `python -m ops migrate`"
        ) from None
    except psycopg.Error as exc:
        raise CommandError(scrub(_first_line(exc), dsn)) from None


def migrate_main(args: argparse.Namespace) -> int:
    dsn = _dsn(args)
    with registry_errors(dsn):
        files = load_migrations()
        applied = migrate(dsn, files)
    where = mask_dsn(dsn)
    names = {m.version: m.filename for m in files}
    if applied:
        print(f"applied {', '.join(names[v] for v in applied)} to {where}")
    else:
        print(f"up to date: {len(files)} migrations already applied at {where}")
    return 0


def list_main(args: argparse.Namespace) -> int:
    dsn = _dsn(args)
    with registry_errors(dsn), connect(dsn, autocommit=True) as conn:
        entries = store.list_entries(conn, args.environment)
    if not entries:
        print("no registry entries" + (f" in {args.environment}" if args.environment else ""))
        return 0
    headers = (
        "ENVIRONMENT",
        "MODEL",
        "BASE",
        "HEALTH",
        "ROUTED",
        "REPLICAS",
        "IMAGE",
        "TARGET",
        "ENDPOINT",
        "OWNER",
        "UPDATED",
    )
    rows = [
        (
            e.environment or "-",
            e.model_name or "-",
            # A LoRA adapter's row: the base model whose replicas serve it.
            e.base_model_name or "-",
            e.health_status,
            "yes" if e.routing_enabled else "no",
            "-" if e.replicas is None else str(e.replicas),
            e.image or "-",
            # During a rollout: what is being rolled out (IMAGE is the last tested one).
            e.target_image or "-",
            e.endpoint_url or "-",
            e.owner_stack or "-",
            e.updated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if e.updated_at else "-",
        )
        for e in entries
    ]
    print("\n".join(table_lines([headers, *rows], rule=True)))
    return 0


def expire_main(args: argparse.Namespace) -> int:
    """Apply the rollout deadline rule now (the health reporter applies it every minute)."""
    dsn = _dsn(args)
    with registry_errors(dsn), connect(dsn, autocommit=True) as conn:
        marked = rollouts.expire_rollouts(conn, args.environment)
    print(f"{marked} rollout(s) past their deadline marked rollout_failed")
    return 0


def adopt_main(args: argparse.Namespace) -> int:
    """Hand an entry over to ``--owner``; one ``adopted`` event records who, from and why. Never
    to a stack named for another environment (it would take that environment's place)."""
    other = other_environment(args.environment, str(args.owner).rsplit("/", 1)[-1])
    if other is not None:
        raise CommandError(
            f"--owner {args.owner}: that stack's name names {other!r}; an entry of "
            f"{args.environment} goes only to a {args.environment} stack"
        )
    dsn = _dsn(args)
    with registry_errors(dsn):
        try:
            with connect(dsn, autocommit=True) as conn:
                before = store.get_entry(conn, args.environment, args.model)
                outcome = store.adopt(
                    conn,
                    args.environment,
                    args.model,
                    owner=args.owner,
                    reason=args.reason,
                    by=getpass.getuser(),
                )
        except ValueError as exc:
            raise CommandError(f"--owner/--reason: {exc}") from None
    key = f"{args.environment}/{args.model}"
    if outcome is None:
        raise CommandError(f"no registry entry {key}")
    if outcome.action is None:
        print(f"{key} is already owned by {args.owner}; nothing changed")
        return 0
    previous = before.owner_stack if before is not None and before.owner_stack else "nobody"
    print(f"adopted {key}: owner {previous} -> {args.owner} (event recorded)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run these commands on their own (``python -m ops`` normally dispatches them)."""
    parser = argparse.ArgumentParser(prog="python -m ops.registry_cli")
    add_parsers(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    handler = {
        "ops.registry_cli:migrate_main": migrate_main,
        "ops.registry_cli:list_main": list_main,
        "ops.registry_cli:expire_main": expire_main,
        "ops.registry_cli:adopt_main": adopt_main,
    }
    try:
        return handler[str(args.handler)](args)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
