"""`python -m ops deploy --stack NAME [--auto-rollback] [--yes] [--policy-pack DIR]`: preview,
`pulumi up`, and after a failed update that changed resources, mark the stack's rollouts failed
and (``--auto-rollback``) restore the last good config through the `ops rollback` path
(docs/operations.md, "Deploying"). The decisions are pure functions of the history.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from components.planning.release import current_git_commit
from ops.common import PROJECT_ROOT, CommandError
from ops.history import Update
from ops.registry_args import DSN_ENV

OnOutput = Callable[[str], Any]
EXIT_OK = 0
EXIT_FAILED = 1


class DeployStack(Protocol):
    """What ``deploy`` asks of a stack: the rollback path's calls plus policy packs."""

    @property
    def name(self) -> str: ...

    def history(
        self, page_size: int | None = None, page: int | None = None, show_secrets: bool = True
    ) -> list[Any]: ...

    def get_all_config(self) -> Any: ...

    def set_all_config_json(self, config_json: str) -> None: ...

    def remove_all_config(self, keys: list[str], *, path: bool = False) -> None: ...

    def preview(
        self,
        *,
        message: str | None = None,
        on_output: OnOutput | None = None,
        policy_packs: list[str] | None = None,
    ) -> Any: ...

    def up(
        self,
        *,
        message: str | None = None,
        on_output: OnOutput | None = None,
        policy_packs: list[str] | None = None,
    ) -> Any: ...


# ------------------------------------------------------------------------------- decisions


def last_succeeded(updates: Sequence[Update]) -> Update | None:
    """The newest update (not refresh) that succeeded: what was deployed."""
    good = [u for u in updates if u.kind == "update" and u.succeeded]
    return max(good, key=lambda u: u.version) if good else None


def applied_anything(update: Update | None) -> bool:
    """Whether an update changed a resource. Unknown (no record, no counts) counts as yes:
    assuming nothing changed could leave a half-applied update in place."""
    if update is None or update.resource_changes is None:
        return True
    return any(n for op, n in update.resource_changes.items() if op != "same")


@dataclass(frozen=True, slots=True)
class FailureDecision:
    rollback: bool
    target: Update | None  # the version to restore (also named when not rolling back)
    reason: str


def decide_after_failure(
    stack: str, before: Sequence[Update], after: Sequence[Update], *, auto_rollback: bool
) -> FailureDecision:
    """What to do once `pulumi up` failed, from the history before and after it."""
    known = {u.version for u in before}
    failed = next(
        (u for u in sorted(after, key=lambda u: -u.version) if u.version not in known), None
    )
    target = last_succeeded(before)
    if failed is not None and not applied_anything(failed):
        return FailureDecision(
            False,
            target,
            f"the failed update (version {failed.version}) changed no resource: nothing to "
            "roll back (fix the error above and deploy again)",
        )
    if target is None:
        return FailureDecision(
            False, None, "no earlier update succeeded (first deploy): nothing to roll back to"
        )
    if not auto_rollback:
        return FailureDecision(
            False,
            target,
            f"not rolled back (no --auto-rollback); the last succeeded version is "
            f"{target.version}: python -m ops rollback --stack {stack} --to {target.version} "
            "--yes",
        )
    return FailureDecision(True, target, f"rolling back to version {target.version}")


# ---------------------------------------------------------------------------------- driver


def _rollback(
    stack: DeployStack,
    after: Sequence[Update],
    target: Update,
    *,
    work_dir: Path,
    on_output: OnOutput,
) -> str:
    """Restore ``target``'s config through the `ops rollback` path; a sentence on the result."""
    from ops import automation  # noqa: PLC0415 (pulumi.automation only on this path)
    from ops.rollback import (  # noqa: PLC0415
        AlreadyCurrentError,
        format_plan,
        git_warnings,
        rollback_message,
    )
    from ops.rollback_command import plan_or_fail  # noqa: PLC0415

    current = automation.current_config(stack)
    try:
        plan = plan_or_fail(after, target.version, current, stack.name)
    except AlreadyCurrentError:
        return (
            f"rollback NOT possible: the config is the one version {target.version} "
            "deployed, so the failing change is in the code; revert the commit and deploy "
            "again"
        )
    except CommandError as exc:
        return f"rollback NOT possible: {exc}"
    on_output(
        format_plan(
            plan,
            stack.name,
            f"stack {stack.name} (pulumi config)",
            git_warnings(plan.target, current_git_commit(work_dir)),
        )
    )
    try:
        automation.preview_and_apply(
            stack,
            plan,
            message=rollback_message(plan, stack.name),
            apply=True,
            work_dir=work_dir,
            on_output=on_output,
        )
    except CommandError as exc:
        return f"rollback to version {target.version} FAILED as well: {exc}"
    return f"rolled back to version {target.version}"


def deploy(
    stack: DeployStack,
    *,
    apply: bool,
    auto_rollback: bool,
    message: str,
    policy_packs: Sequence[str] = (),
    work_dir: Path = PROJECT_ROOT,
    on_output: OnOutput = print,
    registry_dsn: str | None = None,
) -> int:
    """Preview; with ``apply``, up; on a failed up, mark the stack's rollouts failed in the
    registry (with ``registry_dsn``), decide and maybe roll back. Exit code."""
    from pulumi import automation as auto  # noqa: PLC0415

    from ops import automation  # noqa: PLC0415

    packs = list(policy_packs) or None
    before, _ = automation.fetch_history(stack)
    try:
        preview = stack.preview(message=message, on_output=on_output, policy_packs=packs)
    except auto.CommandError as exc:
        on_output(f"deploy of {stack.name} FAILED: {automation.cli_failure('pulumi preview', exc)}")
        on_output("Nothing was applied.")
        return EXIT_FAILED
    on_output(f"Preview: {automation.changes_summary(preview)}")
    if not apply:
        on_output("Nothing applied. Run again with --yes to apply as `pulumi up`.")
        return EXIT_OK
    try:
        result = stack.up(message=message, on_output=on_output, policy_packs=packs)
    except auto.CommandError as exc:
        failure = automation.cli_failure("pulumi up", exc)
    else:
        on_output(f"Deployed {stack.name}: {automation.changes_summary(result)}")
        return EXIT_OK

    after, _ = automation.fetch_history(stack)
    decision = decide_after_failure(stack.name, before, after, auto_rollback=auto_rollback)
    known = {u.version for u in before}
    if applied_anything(next((u for u in after if u.version not in known), None)):
        on_output(f"Registry: {mark_failed_rollouts(registry_dsn, stack.name, str(failure))}")
    outcome = decision.reason
    if decision.rollback and decision.target is not None:
        on_output(f"deploy of {stack.name} failed; {decision.reason}")
        outcome = _rollback(stack, after, decision.target, work_dir=work_dir, on_output=on_output)
    on_output(f"deploy of {stack.name} FAILED: {failure}")
    on_output(f"Rollback: {outcome}")
    return EXIT_FAILED


def mark_failed_rollouts(dsn: str | None, stack: str, failure: str) -> str:
    """Mark the stack's ``rolling_out`` rows ``rollout_failed``; a sentence on the result (a
    registry that cannot be reached does not hide the deploy's own failure)."""
    if not dsn:
        return f"{DSN_ENV} not set: rows still rolling_out become rollout_failed at their deadline"
    import psycopg  # noqa: PLC0415 (the database driver only on this path)

    from components.config import PROJECT  # noqa: PLC0415
    from components.registry.connection import (  # noqa: PLC0415
        RegistryConnectionError,
        connect,
        scrub,
    )
    from components.registry.rollouts import fail_rollouts  # noqa: PLC0415

    note = " ".join(failure.split())[:500] or "pulumi up failed"
    try:
        with connect(dsn, autocommit=True) as conn:
            # The owner is "<project>/<stack name>" (owner_stack_name(): pulumi.get_stack(), the
            # bare name), also for a qualified `--stack org/staging` or `org/project/staging`.
            marked = fail_rollouts(conn, f"{PROJECT}/{stack.rsplit('/', 1)[-1]}", note=note)
    except (psycopg.Error, RegistryConnectionError) as exc:
        return f"could not mark the rollouts failed ({scrub(str(exc), dsn).strip()[:200]})"
    if not marked:
        return "no rollout of this stack was under way"
    return "marked rollout_failed: " + ", ".join(marked)


def deploy_message(stack: str, commit: str | None, extra: str | None) -> str:
    text = f"deploy of {stack}" + (f" (git {commit[:12]})" if commit else "")
    return f"{text}: {extra}" if extra else f"{text} via python -m ops deploy"


def main(args: argparse.Namespace) -> int:
    if not args.stack:
        raise CommandError("give --stack NAME")
    from ops import automation  # noqa: PLC0415

    stack = automation.open_stack(str(args.stack))
    message = deploy_message(str(args.stack), current_git_commit(PROJECT_ROOT), args.message)
    return deploy(
        stack,
        apply=bool(args.yes),
        auto_rollback=bool(args.auto_rollback),
        message=message,
        policy_packs=list(args.policy_pack or []),
        registry_dsn=os.environ.get(DSN_ENV) or None,
    )
