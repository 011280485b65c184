"""`python -m ops plan --against REF`: read the stack file as it is at git ref ``REF``, validate
both versions and say what the change from that version to the working tree does.

The comparison is between the two validated configs (and what the builders make of them), not
between YAML texts: a reordered key or a default spelled out changes nothing. The old version is
read with ``git show REF:<path>``; a ref git does not know is an error (exit 2), a stack file that
did not exist at ``REF`` is a new stack.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from components.config import ConfigError, LoadedStack
from components.config.source import StackFileError, load_from_stack_file
from components.manifests.stack import validate_stack
from ops.common import CommandError
from ops.plan_change import Side, change_lines
from ops.plan_report import findings, format_plan, headline, verdict
from ops.stack import OfflineStack


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", "-C", str(cwd), *args], capture_output=True, text=True, check=False, timeout=60
        )
    except FileNotFoundError:
        raise CommandError("--against needs git on PATH") from None


def stack_file_at(ref: str, path: Path) -> str | None:
    """The text of ``path`` at git ref ``ref``; None when the file did not exist there. A
    symlinked stack file is read where it lives (the link's own name is in no commit)."""
    real = path.resolve()
    where = real.parent
    if _git(where, "rev-parse", "--git-dir").returncode != 0:
        raise CommandError(f"--against {ref}: {where} is not inside a git repository")
    known = _git(where, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if known.returncode != 0:
        raise CommandError(
            f"--against {ref}: not a commit, branch or tag of the git repository at {where} "
            "(fetch it first, e.g. `git fetch origin main`, then --against origin/main)"
        )
    shown = _git(where, "show", f"{ref}:./{real.name}")
    if shown.returncode != 0:
        return None
    return shown.stdout


def old_side(ref: str, path: Path) -> tuple[Side | None, str]:
    """The validated stack file at ``ref``, or None and why it cannot be compared."""
    text = stack_file_at(ref, path)
    if text is None:
        return None, f"{path.name} does not exist at {ref}: a new stack, everything is created"
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / path.name
        copy.write_text(text, encoding="utf-8")
        try:
            loaded: LoadedStack = load_from_stack_file(copy)
            plan, _ = validate_stack(loaded)
        except (StackFileError, ConfigError) as exc:
            count = len(exc.issues) if isinstance(exc, ConfigError) else 1
            why = f"{path.name} at {ref} does not validate ({count} problem(s))"
            return None, why + ": nothing to compare"
    return Side(loaded, plan), ""


def against_report(new: OfflineStack, ref: str) -> tuple[str, int]:
    """The verdict of the working tree's file and the change, then what the change from
    ``ref`` does; and how many problems the change has (a create-first change the quota
    cannot hold)."""
    source = new.path.name
    found = findings(new.loaded.config, new.plan)
    old, why = old_side(ref, new.path)
    if old is None:
        plan = format_plan(new.loaded, new.plan, source).splitlines()
        return "\n".join([f"{plan[0]} · against {ref}", why, *plan[1:]]), 0
    report = change_lines(old, Side(new.loaded, new.plan), ref)
    count = report.changes
    what = f"{count} change{'' if count == 1 else 's'}" if count else "no change"
    head = headline(new.loaded, source, verdict(len(report.problems), len(found)))
    out = [f"{head} · against {ref}: {what}", *report.lines]
    if report.problems:
        out += ["Problems:"] + [f"  - {p}" for p in report.problems]
    before = set(findings(old.config, old.plan))
    added = [f for f in found if f not in before]
    cleared = [f for f in before if f not in found]
    if added:
        out += ["Cautions this change adds:"] + [f"  - {f}" for f in added]
    if cleared:
        out += ["Cautions it clears:"] + [f"  - {f}" for f in sorted(cleared)]
    kept = [f for f in found if f in before]
    if kept:  # the verdict counts them: a reader finds each one here
        out += ["Cautions the stack already had:"] + [f"  - {f}" for f in kept]
    return "\n".join(out), len(report.problems)
