"""`python -m ops rollback`: restore a succeeded update's config, preview, and (--yes) apply."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from components.config import PROJECT, ConfigError
from components.planning.release import current_git_commit
from ops import automation
from ops.common import PROJECT_ROOT, CommandError, eprint
from ops.history import ConfigEntry, Update, load_history_file
from ops.registry_args import DSN_ENV
from ops.rollback import (
    RollbackError,
    RollbackPlan,
    config_from_stack_file,
    create_first_refusals,
    format_plan,
    git_warnings,
    latest_update_config,
    loaded_stack,
    plan_rollback,
    rollback_message,
    validate_restored,
)
from ops.rollback_switch import Switch, kept_switches, switch_lines, switch_registry

HISTORY_FILE_HINT = (
    "read a saved history with --history-file FILE (the output of `pulumi stack history "
    "--json --show-secrets --page-size 1000`)"
)


def plan_or_fail(
    updates: Sequence[Update],
    version: int,
    current: Mapping[str, ConfigEntry],
    stack: str,
    restore_secrets: Sequence[str] = (),
) -> RollbackPlan:
    """The rollback plan, validated against today's code; a ``RollbackError`` naming the stack
    when it cannot be planned, a ``CommandError`` when the restored config does not validate.
    Secrets stay as they are unless ``restore_secrets`` names them (docs/rollback.md)."""
    try:
        plan = plan_rollback(updates, version, current, restore_secrets)
    except RollbackError as exc:
        raise type(exc)(f"stack {stack}: {exc}") from None  # keeps the kind (AlreadyCurrentError)
    problems = validate_restored(plan)
    if problems:
        raise CommandError(
            f"the config of version {version} does not validate against today's code "
            f"({len(problems)} error(s)):\n"
            + "\n".join(f"  {p}" for p in problems)
            + "\nThe code changed since that version: roll the code back too"
            + (f" (`git checkout {plan.target.git_head} -- .`)" if plan.target.git_head else "")
            + " and rerun, or fix the config by hand."
        )
    refusals = create_first_refusals(plan, current)
    if refusals:
        raise CommandError(
            f"rolling back to version {version} creates workloads before it deletes today's, "
            "and the GPU quota cannot hold both:\n" + "\n".join(f"  {r}" for r in refusals)
        )
    return plan


def switches_of(plan: RollbackPlan, current: Mapping[str, ConfigEntry]) -> list[Switch]:
    """The models that roll back by a switch to their kept revision (ops/rollback_switch.py);
    printed after the plan."""
    try:
        now = loaded_stack(current).config
    except ConfigError:
        return []
    switches = kept_switches(now, loaded_stack(plan.restored).config)
    if switches:
        print("\nRollback without a restart (rollout.keepPrevious):")
        print("\n".join(switch_lines(switches)))
    return switches


def registry_switch(
    args: argparse.Namespace, plan: RollbackPlan, switches: list[Switch], stack: str
) -> Callable[[], None] | None:
    """With ``--yes``: flip the registry rows of ``switches`` before the up (a DSN from
    ``--registry-dsn`` or $VLLM_REGISTRY_DSN); without a DSN the entries follow the up."""
    dsn = getattr(args, "registry_dsn", None) or os.environ.get(DSN_ENV)
    if not (switches and args.yes):
        return None
    if not dsn:
        eprint(
            "note: no --registry-dsn: the registry follows once each entry's smoke test passed "
            "(seconds, the pods already serve)"
        )
        return None
    environment = str(loaded_stack(plan.restored).config.environment)

    def run() -> None:
        for line in switch_registry(
            dsn, environment, switches, owner=f"{PROJECT}/{stack}", stack=stack
        ):
            print(line)

    return run


def main(args: argparse.Namespace) -> int:
    stack = str(args.stack or "")
    version = int(args.to)
    if args.history_file:
        if args.yes:
            raise CommandError(
                "--history-file plans only and never applies; drop --yes, or run without "
                "--history-file (needs the Pulumi CLI) to apply"
            )
        updates, shown = load_history_file(Path(args.history_file))
        stack_file = PROJECT_ROOT / f"Pulumi.{stack}.yaml" if stack else None
        if stack_file is not None and stack_file.exists():
            current, source = config_from_stack_file(stack_file), stack_file.name
        else:
            current, source = latest_update_config(updates)
        stack = stack or Path(args.history_file).name
        if not shown:
            eprint(
                "note: the history was taken without --show-secrets; secrets will keep their "
                "current values"
            )
        plan = plan_or_fail(updates, version, current, stack, args.restore_secret or ())
        print(format_plan(plan, stack, source, git_warnings(plan.target, current_git_commit())))
        switches_of(plan, current)
        print("\nPlan only (--history-file): nothing was previewed or applied.")
        return 0

    if not stack:
        raise CommandError("give --stack NAME")
    pulumi_stack = automation.open_stack(stack, offline=HISTORY_FILE_HINT)
    # Before the history: reading it with secrets may save the stack file (the secrets
    # provider's settings), and a plan must leave the file as the user had it.
    snapshot = automation.StackFileSnapshot.take(PROJECT_ROOT, stack)
    updates, shown = automation.fetch_history(pulumi_stack)
    if not shown:
        eprint(
            "note: the stack's secrets could not be read from the history; secrets will keep "
            "their current values"
        )
    current = automation.current_config(pulumi_stack)
    plan = plan_or_fail(updates, version, current, stack, args.restore_secret or ())
    print(
        format_plan(
            plan,
            stack,
            f"stack {stack} (pulumi config)",
            git_warnings(plan.target, current_git_commit(PROJECT_ROOT)),
        )
    )
    switches = switches_of(plan, current)
    print()
    return automation.preview_and_apply(
        pulumi_stack,
        plan,
        message=rollback_message(plan, stack),
        apply=bool(args.yes),
        work_dir=PROJECT_ROOT,
        snapshot=snapshot,
        before_up=registry_switch(args, plan, switches, stack),
    )
