"""`python -m ops history --stack NAME [--history-file FILE] [--json]`: a stack's updates.

The pure part parses the JSON that `pulumi stack history --json [--show-secrets]` prints (one
object per update: ``version``, ``kind``, ``startTime``, ``message``, ``environment``, ``config``
mapping full keys to ``{value, objectValue, secret}``, ``result``, and once finished ``endTime`` and
``resourceChanges``). The same ``Update`` objects come from the Automation API (``ops.automation``)
so the table, ``--json`` and ``ops rollback`` read one model whichever way the history arrived.

Secret values are parsed (a rollback may restore them) but never printed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from components.config import PROJECT
from ops.common import CommandError
from ops.table import table_lines

MASK: Final = "[secret]"
# What the CLI prints for a secret it could not decrypt (another secrets provider, lost key).
UNDECRYPTABLE: Final = "ERROR_UNABLE_TO_DECRYPT"
MODELS_KEY: Final = f"{PROJECT}:models"

SUCCEEDED: Final = "succeeded"
GIT_HEAD: Final = "git.head"
GIT_HEAD_NAME: Final = "git.headName"
GIT_DIRTY: Final = "git.dirty"


class HistoryError(ValueError):
    """The history JSON does not have the shape `pulumi stack history --json` prints."""


def decode_value(text: str) -> Any:
    """A config string as the program sees it: JSON when it parses as JSON, else the string."""

    def no_constants(name: str) -> Any:
        raise ValueError(name)

    try:
        return json.loads(text, parse_constant=no_constants)
    except ValueError:
        return text


@dataclass(frozen=True, slots=True)
class ConfigEntry:
    """One config value of one update (or of the stack now).

    ``text`` is the CLI's ``value`` string (objects as JSON text); None when the value is a
    secret the source did not reveal. ``is_object`` marks values the CLI stores as objects.
    """

    secret: bool
    text: str | None
    is_object: bool = False
    object_value: Any = None
    unreadable: bool = False  # a secret the CLI could not decrypt

    @property
    def known(self) -> bool:
        return self.text is not None or (self.is_object and self.object_value is not None)

    def semantic(self) -> Any:
        """The value the program would read (objects and JSON scalars decoded)."""
        if self.is_object and self.object_value is not None:
            return self.object_value
        if self.text is None:
            return None
        return decode_value(self.text)

    def display(self) -> str:
        if self.secret:
            return MASK
        value = self.semantic()
        if isinstance(value, str):
            return value
        return json.dumps(value, sort_keys=True, separators=(",", ":"))

    def to_config_json(self) -> dict[str, Any]:
        """The ``pulumi config --json`` shape, which `pulumi config set-all --json` reads back."""
        value = self.semantic()
        out: dict[str, Any] = {"secret": self.secret}
        if isinstance(value, (dict, list)):
            # Objects (also ones the Automation API handed over as JSON text) stay objects in
            # the stack file, so `ops plan` and reviewers read them as they were written.
            out["value"] = json.dumps(value, separators=(",", ":"))
            out["objectValue"] = value
        else:
            out["value"] = self.text if self.text is not None else ""
        return out


@dataclass(frozen=True, slots=True)
class Update:
    version: int
    kind: str
    result: str
    message: str
    start: datetime | None
    end: datetime | None
    environment: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, ConfigEntry] = field(default_factory=dict)
    resource_changes: Mapping[str, int] | None = None

    @property
    def succeeded(self) -> bool:
        return self.result == SUCCEEDED

    @property
    def git_head(self) -> str | None:
        head = self.environment.get(GIT_HEAD, "").strip()
        return head or None

    @property
    def git_dirty(self) -> bool:
        return self.environment.get(GIT_DIRTY, "").strip().lower() == "true"

    @property
    def duration(self) -> timedelta | None:
        if self.start is None or self.end is None:
            return None
        return self.end - self.start

    def models(self) -> list[tuple[str, str]] | None:
        """(name, image) of each model in this update's config, when the config shows them."""
        entry = self.config.get(MODELS_KEY)
        if entry is None or entry.secret or not entry.known:
            return None
        value = entry.semantic()
        if not isinstance(value, list):
            return None
        out: list[tuple[str, str]] = []
        for item in value:
            if isinstance(item, Mapping):
                out.append((str(item.get("name", "?")), str(item.get("image", "?"))))
        return out


# ------------------------------------------------------------------------------------- parsing


def _time(value: Any, where: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise HistoryError(f"{where}: expected a timestamp string, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise HistoryError(f"{where}: not an ISO 8601 timestamp: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def entry_from_json(raw: Any, where: str) -> ConfigEntry:
    """One ``config`` value of the CLI's JSON: ``{"value"?, "objectValue"?, "secret"}``."""
    if not isinstance(raw, Mapping):
        raise HistoryError(f"{where}: expected {{value, secret}}, got {type(raw).__name__}")
    secret = raw.get("secret", False)
    if not isinstance(secret, bool):
        raise HistoryError(f"{where}.secret: expected true or false")
    text = raw.get("value")
    if text is not None and not isinstance(text, str):
        raise HistoryError(f"{where}.value: expected a string, got {type(text).__name__}")
    if secret and text == UNDECRYPTABLE:
        return ConfigEntry(secret=True, text=None, unreadable=True)
    try:
        if "objectValue" in raw and raw["objectValue"] is not None:
            obj = raw["objectValue"]
            if text is None:
                text = json.dumps(obj, separators=(",", ":"))
            return ConfigEntry(secret=secret, text=text, is_object=True, object_value=obj)
        entry = ConfigEntry(secret=secret, text=text)
        entry.semantic()  # decodable now, so every later reading is too
    except RecursionError:
        raise HistoryError(f"{where}.value: nested too deeply to decode") from None
    return entry


def _update(raw: Any, index: int) -> Update:
    where = f"update #{index + 1}"
    if not isinstance(raw, Mapping):
        raise HistoryError(f"{where}: expected an object, got {type(raw).__name__}")
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise HistoryError(f"{where}: `version` must be an integer")
    where = f"version {version}"
    env = raw.get("environment") or {}
    if not isinstance(env, Mapping):
        raise HistoryError(f"{where}.environment: expected an object")
    config = raw.get("config") or {}
    if not isinstance(config, Mapping):
        raise HistoryError(f"{where}.config: expected an object")
    changes = raw.get("resourceChanges")
    if changes is not None and not (
        isinstance(changes, Mapping) and all(isinstance(v, int) for v in changes.values())
    ):
        raise HistoryError(f"{where}.resourceChanges: expected an object of counts")
    return Update(
        version=version,
        kind=str(raw.get("kind", "")),
        # `result` is omitted while empty; an update without one has not finished.
        result=str(raw.get("result") or "in-progress"),
        message=str(raw.get("message") or ""),
        start=_time(raw.get("startTime"), f"{where}.startTime"),
        end=_time(raw.get("endTime"), f"{where}.endTime"),
        environment={str(k): str(v) for k, v in env.items()},
        config={str(k): entry_from_json(v, f"{where}.config[{k}]") for k, v in config.items()},
        resource_changes=dict(changes) if changes is not None else None,
    )


def parse_history(data: Any) -> list[Update]:
    """Every update of a `pulumi stack history --json` document, newest first."""
    if not isinstance(data, list):
        raise HistoryError(
            "expected a JSON list of updates (the output of `pulumi stack history --json`)"
        )
    updates = [_update(item, i) for i, item in enumerate(data)]
    seen: set[int] = set()
    for u in updates:
        if u.version in seen:
            raise HistoryError(f"version {u.version} appears twice")
        seen.add(u.version)
    return sorted(updates, key=lambda u: u.version, reverse=True)


def load_history_file(path: Path) -> tuple[list[Update], bool]:
    """Parse a saved history; also say whether secret values were shown when it was taken."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"{path}: cannot read the history file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path}: not UTF-8 text, so not a history file") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise CommandError(f"{path}: nested too deeply to be a history file") from None
    except ValueError as exc:
        raise CommandError(f"{path}: not JSON ({exc})") from None
    try:
        updates = parse_history(data)
    except HistoryError as exc:
        raise CommandError(f"{path}: {exc}") from None
    return updates, secrets_shown(updates)


def secrets_shown(updates: Iterable[Update]) -> bool:
    """Whether the history carries secret values (taken with --show-secrets)."""
    secrets = [e for u in updates for e in u.config.values() if e.secret]
    return any(e.known or e.unreadable for e in secrets) if secrets else True


# ------------------------------------------------------------------------------------ display


def _fmt_time(t: datetime | None) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if t else "-"


def _fmt_duration(d: timedelta | None) -> str:
    if d is None:
        return "-"
    seconds = max(0, math.floor(d.total_seconds()))
    minutes, sec = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{sec:02d}s" if minutes else f"{sec}s"


def history_rows(updates: Sequence[Update]) -> list[dict[str, Any]]:
    """The facts the table and ``--json`` show; never a config value other than models/images."""
    rows: list[dict[str, Any]] = []
    for u in updates:
        models = u.models()
        rows.append(
            {
                "version": u.version,
                "kind": u.kind,
                "result": u.result,
                "startTime": u.start.astimezone(UTC).isoformat() if u.start else None,
                "durationSeconds": (
                    int(u.duration.total_seconds()) if u.duration is not None else None
                ),
                "message": u.message,
                "gitHead": u.git_head,
                "gitDirty": u.git_dirty,
                "models": (
                    [{"name": n, "image": i} for n, i in models] if models is not None else None
                ),
                "resourceChanges": dict(u.resource_changes) if u.resource_changes else None,
            }
        )
    return rows


def _one_line(text: str, width: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def format_history(updates: Sequence[Update], stack: str) -> str:
    if not updates:
        return f"Stack {stack} has no updates."
    header = ["VERSION", "KIND", "RESULT", "STARTED (UTC)", "TOOK", "GIT", "MESSAGE", "MODELS"]
    rows = [header]
    for u in updates:
        models = u.models()
        shown = "-" if models is None else ", ".join(f"{n}={i}" for n, i in models)
        head = u.git_head[:12] if u.git_head else "-"
        rows.append(
            [
                str(u.version),
                u.kind or "-",
                u.result,
                _fmt_time(u.start),
                _fmt_duration(u.duration),
                head + ("+dirty" if u.git_dirty and u.git_head else ""),
                _one_line(u.message, 40) or "-",
                shown,
            ]
        )
    lines = table_lines(rows)
    good = [u.version for u in updates if u.kind == "update" and u.succeeded]
    lines += [
        "",
        f"{len(updates)} update(s); rollback targets (succeeded updates): "
        + (", ".join(map(str, good)) if good else "none"),
    ]
    return "\n".join(lines)
