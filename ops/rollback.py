"""`python -m ops rollback --stack NAME --to VERSION`, the pure part: from the stack's history
and its current config, the plan that restores a succeeded update's project keys
(``vllm-platform:*``), how it is shown, and today's validation of it (docs/rollback.md).
``ops.automation`` talks to Pulumi.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.config import PROJECT, ConfigError, LoadedStack, load_stack_config
from components.config.source import SECRET
from components.manifests.stack import validate_stack
from components.planning.release import ROLLBACK_ENV
from components.planning.transitions import create_first_findings
from ops.common import CommandError
from ops.history import (
    MASK,
    ConfigEntry,
    Update,
)

PREFIX = f"{PROJECT}:"


class RollbackError(CommandError):
    """The rollback cannot be planned as asked (unknown or failed version, another stack's
    history); a user-facing failure like every ``CommandError``."""


class AlreadyCurrentError(RollbackError):
    """The version's config is the current one: nothing to roll back (after a failed deploy, the
    failing change is then in the code)."""


@dataclass(frozen=True, slots=True)
class Change:
    key: str
    before: ConfigEntry | None  # None: the key is added back
    after: ConfigEntry | None  # None: the key is removed (added since the target version)
    asked: bool = False  # a secret restored because --restore-secret named it


@dataclass(frozen=True, slots=True)
class RollbackPlan:
    target: Update
    to_set: dict[str, ConfigEntry]
    to_remove: list[str]
    changes: list[Change]
    restored: dict[str, ConfigEntry]  # the project's config after the rollback
    kept_secrets: list[str] = field(default_factory=list)
    missing_secrets: list[str] = field(default_factory=list)
    other_namespaces: list[str] = field(default_factory=list)
    restored_secrets: list[str] = field(default_factory=list)  # named by --restore-secret
    restorable_secrets: list[str] = field(default_factory=list)  # the history has another value

    def config_json(self) -> str:
        """What `pulumi config set-all --json` takes for the keys to set."""
        return json.dumps({k: e.to_config_json() for k, e in sorted(self.to_set.items())})


# -------------------------------------------------------------------------------------- target


def _versions(updates: Sequence[Update]) -> str:
    good = [u.version for u in updates if u.kind == "update" and u.succeeded]
    return ", ".join(map(str, sorted(good, reverse=True)[:10])) if good else "none"


def choose_target(updates: Sequence[Update], version: int) -> Update:
    """The update to restore: it must exist, be an update (not a refresh...) and have succeeded."""
    by_version = {u.version: u for u in updates}
    target = by_version.get(version)
    if target is None:
        span = f" (versions {min(by_version)}..{max(by_version)})" if by_version else ""
        raise RollbackError(
            f"version {version} is not in the stack's history{span}; "
            f"succeeded updates: {_versions(updates)}"
        )
    if target.kind != "update":
        raise RollbackError(
            f"version {version} is a {target.kind or 'unknown'} operation, not an update; "
            f"its config was never deployed as such. Succeeded updates: {_versions(updates)}"
        )
    if not target.succeeded:
        what = (
            "is still in progress (or was interrupted)"
            if target.result == "in-progress"
            else f"did not succeed (result: {target.result})"
        )
        raise RollbackError(
            f"version {version} {what}; roll back only to a succeeded update: {_versions(updates)}"
        )
    return target


# ---------------------------------------------------------------------------------------- plan


def _is_project(key: str) -> bool:
    return key.startswith(PREFIX)


def _check_same_environment(
    version: int, wanted: Mapping[str, ConfigEntry], now: Mapping[str, ConfigEntry]
) -> None:
    """A history file of another stack (or a typo in --stack): restoring it would turn this
    stack into that one (environment, namespace, cluster mode...)."""
    env_key = f"{PROJECT}:environment"
    then, today = wanted.get(env_key), now.get(env_key)
    if then is None or today is None or not (then.known and today.known):
        return
    if then.semantic() != today.semantic():
        raise RollbackError(
            f"version {version} deployed environment {then.semantic()!r} but this stack is "
            f"{today.semantic()!r}: the history is another stack's; give that stack's "
            "history (pulumi stack history --json --show-secrets --stack NAME)"
        )


@dataclass
class _Restore:
    """The project's keys, compared one by one: what to set, and what happens to each secret."""

    to_set: dict[str, ConfigEntry] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    restored: dict[str, ConfigEntry] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)
    restorable: list[str] = field(default_factory=list)


def _is_secret(*entries: ConfigEntry | None) -> bool:
    return any(e is not None and e.secret for e in entries)


def _asked_keys(
    restore_secrets: Sequence[str],
    wanted: Mapping[str, ConfigEntry],
    now: Mapping[str, ConfigEntry],
) -> frozenset[str]:
    """``--restore-secret`` keys (short or full), each a secret the history carries."""
    out: set[str] = set()
    for name in restore_secrets:
        key = name if name.startswith(PREFIX) else f"{PREFIX}{name}"
        short = key[len(PREFIX) :]
        old, cur = wanted.get(key), now.get(key)
        if not _is_secret(old, cur):
            raise RollbackError(f"--restore-secret {short}: not a secret of this stack")
        if old is not None and not old.known:
            raise RollbackError(
                f"--restore-secret {short}: the history does not carry its value (read it "
                "with --show-secrets and the stack's secrets provider)"
            )
        out.add(key)
    return frozenset(out)


def _keep_secret(out: _Restore, key: str, old: ConfigEntry | None, cur: ConfigEntry | None) -> None:
    """A secret not asked for: today's value stays (or stays unset)."""
    if old is not None and old.known and not (cur is not None and _same(cur, old)):
        out.restorable.append(key)
    if cur is None:
        if old is not None:
            out.missing.append(key)
        return
    out.kept.append(key)
    out.restored[key] = cur


def _restore(
    wanted: Mapping[str, ConfigEntry], now: Mapping[str, ConfigEntry], asked: frozenset[str]
) -> _Restore:
    """Values of ``wanted``; secrets only when ``asked``, else today's (docs/rollback.md)."""
    out = _Restore()
    for key in sorted(set(wanted) | set(now)):
        old, cur = wanted.get(key), now.get(key)
        if _is_secret(old, cur) and key not in asked:
            _keep_secret(out, key, old, cur)
            continue
        if key in asked:
            out.asked.append(key)
        if old is None:
            continue  # removed below (added since the target version)
        out.restored[key] = old
        if cur is not None and _same(cur, old):
            continue
        out.to_set[key] = old
        out.changes.append(Change(key, cur, old, asked=key in asked))
    return out


def _other_namespaces(
    then: Mapping[str, ConfigEntry], current: Mapping[str, ConfigEntry]
) -> list[str]:
    """Keys outside the project's that differ between the target version and now."""
    return sorted(
        k
        for k in set(then) | set(current)
        if not _is_project(k)
        and not (k in then and k in current and then[k].known and _same(then[k], current[k]))
    )


def plan_rollback(
    updates: Sequence[Update],
    version: int,
    current: Mapping[str, ConfigEntry],
    restore_secrets: Sequence[str] = (),
) -> RollbackPlan:
    """The project's config as it was at ``version``, against ``current`` (full keys).

    Values are taken from the target update; keys added since are removed. Secrets keep their
    current value, set or not (``kept_secrets``, ``missing_secrets``): a rollback restores the
    deployment, not credentials rotated or revoked since. ``restore_secrets`` (``hfToken`` or
    ``vllm-platform:hfToken``) takes those from the history (``restored_secrets``).
    """
    target = choose_target(updates, version)
    wanted = {k: e for k, e in target.config.items() if _is_project(k)}
    now = {k: e for k, e in current.items() if _is_project(k)}
    _check_same_environment(version, wanted, now)
    asked = _asked_keys(restore_secrets, wanted, now)
    restore = _restore(wanted, now, asked)
    to_remove = sorted(k for k in now if k not in wanted and (k in asked or not _is_secret(now[k])))
    changes = restore.changes + [Change(k, now[k], None, asked=k in asked) for k in to_remove]
    changes.sort(key=lambda c: c.key)
    if not changes:
        kept = restore.kept
        raise AlreadyCurrentError(
            f"version {version} is the current configuration: the project's keys already have "
            "the values it deployed (nothing to roll back)"
            + (f"; secrets kept as they are: {', '.join(kept)}" if kept else "")
        )
    return RollbackPlan(
        target=target,
        to_set=restore.to_set,
        to_remove=to_remove,
        changes=changes,
        restored=restore.restored,
        kept_secrets=restore.kept,
        missing_secrets=restore.missing,
        other_namespaces=_other_namespaces(target.config, current),
        restored_secrets=restore.asked,
        restorable_secrets=restore.restorable,
    )


def _same(a: ConfigEntry, b: ConfigEntry) -> bool:
    if a.secret != b.secret:
        return False
    if not (a.known and b.known):
        return False
    return bool(a.semantic() == b.semantic())


def loaded_stack(config: Mapping[str, ConfigEntry]) -> LoadedStack:
    """The project's keys of ``config`` read as the program reads them (secrets as markers)."""
    raw: dict[str, Any] = {}
    secrets: set[str] = set()
    for key, entry in config.items():
        if not _is_project(key):
            continue
        short = key[len(PREFIX) :]
        if entry.secret:
            raw[short] = SECRET
            secrets.add(short)
        else:
            raw[short] = entry.semantic()
    return load_stack_config(raw, secrets)


def validate_restored(plan: RollbackPlan) -> list[str]:
    """Today's validation of the config being restored, exactly as the program runs it (config,
    planning, builders); every problem, as ``key.path: msg``."""
    try:
        validate_stack(loaded_stack(plan.restored))
    except ConfigError as exc:
        return [str(issue) for issue in exc.issues]
    return []


def create_first_refusals(plan: RollbackPlan, current: Mapping[str, ConfigEntry]) -> list[str]:
    """Changes back to the target that would create a workload beside one the quota cannot
    hold (a renamed model, a switched weight cache: components/planning/transitions.py). None
    when today's config does not load (nothing to compare with)."""
    try:
        now = loaded_stack(current).config
    except ConfigError:
        return []
    then = loaded_stack(plan.restored).config
    return [str(f) for f in create_first_findings(now, then) if f.refused]


def rollback_message(plan: RollbackPlan, stack: str) -> str:
    sha = plan.target.git_head
    return (
        f"rollback of {stack} to version {plan.target.version}"
        + (f" (git {sha[:12]})" if sha else "")
        + f" via python -m ops rollback; registry events: rolled_back ({ROLLBACK_ENV})"
    )


def git_warnings(target: Update, checked_out: str | None) -> list[str]:
    """Whether the code changed since the target version, and how to roll it back too."""
    head = target.git_head
    if head is None:
        return [
            f"version {target.version} recorded no git commit: make sure the checked-out code "
            "can deploy that config (the config alone is restored)"
        ]
    out: list[str] = []
    if checked_out is None:
        out.append(
            f"cannot tell the checked-out commit (no git here, and no VLLM_PLATFORM_GIT_COMMIT); "
            f"version {target.version} was deployed from {head}"
        )
    elif not (checked_out.startswith(head) or head.startswith(checked_out)):
        out.append(
            f"the code changed since version {target.version}: it was deployed from {head[:12]}, "
            f"the checkout is {checked_out[:12]}. This restores the config only, deployed by "
            f"today's code. To roll the code back too: `git checkout {head} -- .` (or "
            f"`git revert` the commits since {head[:12]}), then rerun this command"
        )
    if target.git_dirty:
        out.append(
            f"version {target.version} was deployed from a dirty worktree: uncommitted changes "
            f"on top of {head[:12]} are not recoverable from git"
        )
    return out


# ------------------------------------------------------------------------------------- display


def _path_diff(before: Any, after: Any, path: str) -> Iterator[str]:
    """Leaf differences; lists of named objects (models) are matched by name."""
    if isinstance(before, dict) and isinstance(after, dict):
        for k in sorted(set(before) | set(after), key=str):
            child = f"{path}.{k}" if path else str(k)
            if k not in before:
                yield f"{child}: (absent) -> {_short(after[k])}"
            elif k not in after:
                yield f"{child}: {_short(before[k])} -> (absent)"
            else:
                yield from _path_diff(before[k], after[k], child)
        return
    if isinstance(before, list) and isinstance(after, list):
        named = all(isinstance(x, dict) and "name" in x for x in [*before, *after])
        if named:
            b = {str(x["name"]): x for x in before}
            a = {str(x["name"]): x for x in after}
            for name in [*b, *(n for n in a if n not in b)]:
                child = f"{path}[{name}]"
                if name not in a:
                    yield f"{child}: removed"
                elif name not in b:
                    yield f"{child}: added back"
                else:
                    yield from _path_diff(b[name], a[name], child)
            if [n for n in b if n in a] != [n for n in a if n in b]:
                yield f"{path}: order of models changes"
            return
        if len(before) == len(after):
            for i, (x, y) in enumerate(zip(before, after, strict=True)):
                yield from _path_diff(x, y, f"{path}[{i}]")
            return
    if before != after:
        yield f"{path}: {_short(before)} -> {_short(after)}"


def _short(value: Any, width: int = 80) -> str:
    """Leaf strings in full (an image digest cut short would hide what changes); long JSON cut."""
    if isinstance(value, str):
        return value
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= width else text[: width - 1] + "…"


def _change_lines(change: Change) -> list[str]:
    key, before, after = change.key, change.before, change.after
    if change.asked:  # every secret change is one --restore-secret asked for
        sign = "-" if after is None else "+" if before is None else "~"
        return [f"  {sign} {key} = {MASK}   (restored from the history: --restore-secret)"]
    if after is None:
        shown = MASK if before is None else _short(before.display())
        return [f"  - {key} = {shown}   (added after this version: removed)"]
    if before is None:
        return [f"  + {key} = {_short(after.display())}   (removed since: set again)"]
    lines = [f"  ~ {key}"]
    lines += [f"      {line}" for line in _path_diff(before.semantic(), after.semantic(), "")]
    return lines


def format_plan(
    plan: RollbackPlan, stack: str, current_source: str, git_notes: Sequence[str]
) -> str:
    t = plan.target
    when = t.start.strftime("%Y-%m-%d %H:%M:%SZ") if t.start else "unknown time"
    lines = [
        f"Rollback of stack {stack} to version {t.version}: update of {when}"
        + (f", git {t.git_head[:12]}" if t.git_head else "")
        + (f', "{t.message}"' if t.message else ""),
        f"Current configuration read from: {current_source}",
        "",
        f"Config changes ({PREFIX}* keys; secrets shown as {MASK}):",
    ]
    for change in plan.changes:
        lines += _change_lines(change)
    lines += _secret_lines(plan, stack)
    if plan.other_namespaces:
        lines += [
            "",
            "Not restored (outside the project's keys; provider credentials and stack metadata "
            "are managed separately): " + ", ".join(plan.other_namespaces),
        ]
    if git_notes:
        lines += ["", "Code:"] + [f"  ! {n}" for n in git_notes]
    return "\n".join(lines)


def _restore_hint(plan: RollbackPlan, key: str) -> str:
    short = key[len(PREFIX) :]
    if key in plan.restorable_secrets:
        return f"the history's value: --restore-secret {short}"
    return "the history carries no other value"


def _secret_lines(plan: RollbackPlan, stack: str) -> list[str]:
    """Which secrets stay as they are (all of them unless --restore-secret names one)."""
    lines: list[str] = []
    if plan.kept_secrets:
        lines += [
            "",
            "Secrets kept at their current value (a rollback restores the deployment, not "
            "credentials rotated or revoked since):",
        ]
        lines += [f"  {k}   ({_restore_hint(plan, k)})" for k in plan.kept_secrets]
    if plan.missing_secrets:
        lines += ["", "Secrets not set now, and not restored from the history:"]
        lines += [
            f"  pulumi config set --stack {stack} --secret {k[len(PREFIX) :]}   "
            f"# or {_restore_hint(plan, k)}"
            for k in plan.missing_secrets
        ]
    return lines


# ------------------------------------------------------------------------------- offline input


def config_from_stack_file(path: Path) -> dict[str, ConfigEntry]:
    """A stack file's config as entries (secure values: secrets with unknown values)."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CommandError(f"{path}: cannot read the stack file ({exc})") from None
    config = doc.get("config") if isinstance(doc, Mapping) else None
    if not isinstance(config, Mapping):
        return {}
    out: dict[str, ConfigEntry] = {}
    for raw_key, value in config.items():
        key = str(raw_key)
        if isinstance(value, Mapping) and set(value) == {"secure"}:
            out[key] = ConfigEntry(secret=True, text=None)
        elif isinstance(value, (Mapping, list)):
            obj = json.loads(json.dumps(value, default=str))
            out[key] = ConfigEntry(
                secret=False, text=json.dumps(obj), is_object=True, object_value=obj
            )
        elif isinstance(value, bool):
            out[key] = ConfigEntry(secret=False, text="true" if value else "false")
        else:
            out[key] = ConfigEntry(secret=False, text="" if value is None else str(value))
    return out


def latest_update_config(updates: Sequence[Update]) -> tuple[dict[str, ConfigEntry], str]:
    for u in updates:
        if u.kind == "update":  # whatever its result: its config was the stack's then
            return dict(u.config), f"the newest update in the history (version {u.version})"
    raise CommandError("the history has no update to compare with")
