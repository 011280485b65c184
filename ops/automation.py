"""The thin Automation API layer of `ops history` and `ops rollback`.

Everything that talks to Pulumi is here: select the stack (``LocalWorkspace`` on the project
directory, so the file backend and Pulumi Cloud both work as `pulumi` itself does), read every
page of its history, read its config, write the restored keys, preview, and `pulumi up`. The
decisions are made by the pure modules (``ops.history``, ``ops.rollback``); this module turns
their plan into CLI calls and CLI failures into ``CommandError``s. Imported only by those paths,
so `ops plan` never loads ``pulumi.automation``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pulumi import automation as auto

from components.planning.release import ROLLBACK_ENV
from ops.common import PROJECT_ROOT, CommandError
from ops.history import ConfigEntry, HistoryError, Update, parse_history, secrets_shown
from ops.rollback import RollbackPlan

HISTORY_PAGE_SIZE = 50
_MAX_PAGES = 10_000

OnOutput = Callable[[str], Any]


class StackApi(Protocol):
    """The part of ``pulumi.automation.Stack`` these commands use (fakes implement this)."""

    @property
    def name(self) -> str: ...

    def history(
        self, page_size: int | None = None, page: int | None = None, show_secrets: bool = True
    ) -> list[auto.UpdateSummary]: ...

    def get_all_config(self) -> MutableMapping[str, auto.ConfigValue]: ...

    def set_all_config_json(self, config_json: str) -> None: ...

    def remove_all_config(self, keys: list[str], *, path: bool = False) -> None: ...

    def preview(self, *, message: str | None = None, on_output: OnOutput | None = None) -> Any: ...

    def up(self, *, message: str | None = None, on_output: OnOutput | None = None) -> Any: ...


def cli_failure(what: str, exc: Exception) -> CommandError:
    """A failed CLI call as a ``CommandError``: the end of its stderr, without the SDK's
    stdout dump."""
    text = str(exc)
    stderr = text.split("\n stderr: ", 1)[1] if "\n stderr: " in text else text
    lines = [line for line in stderr.strip().splitlines() if line.strip()][-15:]
    detail = "\n".join(f"  {line}" for line in lines) or "  (no output)"
    return CommandError(f"{what} failed:\n{detail}")


def open_stack(stack: str, work_dir: Path = PROJECT_ROOT, *, offline: str = "") -> auto.Stack:
    """Select the stack in a LocalWorkspace on the project directory (the CLI's own backend).

    ``offline`` names what the calling command can do without the CLI (``history`` and
    ``rollback`` read a --history-file), said in the error when the CLI is missing."""
    if shutil.which("pulumi") is None:
        raise CommandError(
            "the Pulumi CLI is required for this path and is not on PATH; install it "
            "(https://www.pulumi.com/docs/install/)" + (f" or {offline}" if offline else "")
        )
    try:
        return auto.select_stack(stack_name=stack, work_dir=str(work_dir))
    except auto.StackNotFoundError:
        raise CommandError(
            f"no stack {stack!r} in the backend the Pulumi CLI is logged in to "
            "(`pulumi whoami -v`, `pulumi stack ls`)"
        ) from None
    except auto.CommandError as exc:
        raise cli_failure(f"selecting stack {stack}", exc) from None


def summaries_to_json(
    summaries: Sequence[auto.UpdateSummary], secrets_were_shown: bool
) -> list[dict[str, Any]]:
    """``UpdateSummary`` objects back into the `pulumi stack history --json` shape.

    The SDK replaces an unshown secret with the text ``[secret]``; that is dropped here so a
    placeholder can never be restored as a value. Object values arrive as JSON text.
    """
    out: list[dict[str, Any]] = []
    for s in summaries:
        config: dict[str, Any] = {}
        for key, cv in s.config.items():
            if cv.secret and not secrets_were_shown:
                config[key] = {"secret": True}
            else:
                config[key] = {"value": cv.value, "secret": cv.secret}
        item: dict[str, Any] = {
            "version": s.version,
            "kind": s.kind,
            "startTime": s.start_time.isoformat() if s.start_time else None,
            "message": s.message,
            "environment": dict(s.environment),
            "config": config,
            "result": s.result,
        }
        if s.end_time is not None:
            item["endTime"] = s.end_time.isoformat()
        if s.resource_changes is not None:
            item["resourceChanges"] = dict(s.resource_changes)
        out.append(item)
    return out


def _all_pages(stack: StackApi, page_size: int, show_secrets: bool) -> list[auto.UpdateSummary]:
    """Every page: the CLI returns ten updates unless asked for pages."""
    out: list[auto.UpdateSummary] = []
    seen: set[int | None] = set()
    for page in range(1, _MAX_PAGES + 1):
        batch = stack.history(page_size=page_size, page=page, show_secrets=show_secrets)
        fresh = [s for s in batch if s.version not in seen]
        out += fresh
        seen.update(s.version for s in fresh)
        # A short page is the last; a page of nothing new means the backend ignores paging.
        if len(batch) < page_size or not fresh:
            break
    return out


def fetch_history(stack: StackApi, page_size: int = HISTORY_PAGE_SIZE) -> tuple[list[Update], bool]:
    """Every update of the stack, newest first, and whether secret values came with it.

    Reads with secrets shown first; when the secrets provider is unavailable (no passphrase,
    no KMS access) it reads again without them and says so through the second value.
    """
    shown = True
    try:
        summaries = _all_pages(stack, page_size, show_secrets=True)
    except auto.CommandError:
        shown = False
        try:
            summaries = _all_pages(stack, page_size, show_secrets=False)
        except auto.CommandError as exc:
            raise cli_failure(f"reading the history of stack {stack.name}", exc) from None
    try:
        updates = parse_history(summaries_to_json(summaries, shown))
    except HistoryError as exc:
        raise CommandError(f"stack {stack.name}: unexpected history from the CLI: {exc}") from None
    return updates, shown and secrets_shown(updates)


def current_config(stack: StackApi) -> dict[str, ConfigEntry]:
    """The stack's config now (secrets decrypted, never printed)."""
    try:
        config = stack.get_all_config()
    except auto.CommandError as exc:
        raise cli_failure(f"reading the config of stack {stack.name}", exc) from None
    return {k: ConfigEntry(secret=v.secret, text=v.value) for k, v in config.items()}


def apply_config(stack: StackApi, plan: RollbackPlan) -> None:
    """Write the restored values (objects stay objects) and remove the keys added since."""
    if plan.to_set:
        stack.set_all_config_json(plan.config_json())
    if plan.to_remove:
        stack.remove_all_config(list(plan.to_remove))


@dataclass(frozen=True, slots=True)
class StackFileSnapshot:
    """The stack's settings file as it was, so a preview-only run leaves it byte for byte."""

    path: Path | None
    content: bytes | None

    @classmethod
    def take(cls, work_dir: Path, stack: str) -> StackFileSnapshot:
        short = stack.rsplit("/", 1)[-1]
        for ext in ("yaml", "yml", "json"):
            path = work_dir / f"Pulumi.{short}.{ext}"
            if path.exists():
                return cls(path, path.read_bytes())
        return cls(None, None)

    def restore(self) -> None:
        if self.path is not None and self.content is not None:
            self.path.write_bytes(self.content)


@contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    """Set an environment variable for the CLI processes started inside (they inherit it)."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def changes_summary(result: Any) -> str:
    """A preview's or an up's resource changes, ``create 1, update 2``."""
    summary: Mapping[str, int] | None = getattr(result, "change_summary", None)
    if summary is None:
        summary = getattr(getattr(result, "summary", None), "resource_changes", None)
    if not summary:
        return "no resource changes reported"
    counts = {str(getattr(op, "value", op)): n for op, n in summary.items() if n}
    return ", ".join(f"{op} {n}" for op, n in sorted(counts.items()))


def _up(
    stack: StackApi,
    plan: RollbackPlan,
    message: str,
    on_output: OnOutput,
    before_up: Callable[[], None] | None,
) -> Any:
    """``before_up``, then `pulumi up` of the restored config, marked as a rollback."""
    if before_up is not None:
        before_up()
    with _env(ROLLBACK_ENV, str(plan.target.version)):
        try:
            return stack.up(message=message, on_output=on_output)
        except auto.CommandError as exc:
            raise cli_failure(
                "pulumi up (the stack file was put back; rerun the rollback to retry)", exc
            ) from None


def preview_and_apply(
    stack: StackApi,
    plan: RollbackPlan,
    *,
    message: str,
    apply: bool,
    work_dir: Path = PROJECT_ROOT,
    on_output: OnOutput = print,
    snapshot: StackFileSnapshot | None = None,
    before_up: Callable[[], None] | None = None,
) -> int:
    """Write the restored config, preview, and with ``apply`` run `pulumi up` (``before_up``
    runs between a successful preview and the up: the registry's switch of a kept revision).

    Without ``apply`` (and on any failure) the stack file is put back byte for byte as
    ``snapshot`` holds it (default: as it is now), so a plan leaves no trace. Take the snapshot
    before reading the history with secrets: that may rewrite the stack file. After a
    successful up the stack file holds the restored config: commit it, or the next `pulumi up`
    from the old file undoes the rollback.
    """
    if snapshot is None:
        snapshot = StackFileSnapshot.take(work_dir, stack.name)
    if snapshot.path is None and not apply:
        on_output(
            "Preview skipped: the stack's config is not in a local Pulumi.<stack>.yaml, so a "
            "preview would have to change it in the backend. Run with --yes to preview and apply."
        )
        return 0
    keep = False
    try:
        apply_config(stack, plan)
        on_output(f"Preview of the restored config (version {plan.target.version}):")
        try:
            preview = stack.preview(message=message, on_output=on_output)
        except auto.CommandError as exc:
            raise cli_failure("pulumi preview", exc) from None
        on_output(f"Preview: {changes_summary(preview)}")
        if not apply:
            on_output(
                "Nothing applied (the stack file is unchanged). Run again with --yes to apply "
                "as `pulumi up`."
            )
            return 0
        result = _up(stack, plan, message, on_output, before_up)
        keep = True
        on_output(f"Rolled back to version {plan.target.version}: {changes_summary(result)}")
        if snapshot.path is not None:
            on_output(
                f"Commit {snapshot.path.name}: it now holds the restored config, and a "
                "`pulumi up` from the previous file would undo the rollback."
            )
        return 0
    finally:
        if not keep:
            snapshot.restore()
