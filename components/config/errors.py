"""The one error path: every config problem is a ``ConfigIssue`` naming its key path."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError

from components.config.suggest import did_you_mean, known_keys


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(Exception):
    """Every problem found in a stack's configuration, each naming its key path."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


def _join(base: str, loc: Iterable[str | int]) -> str:
    out = base
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def issues_from(exc: ValidationError, root: type[BaseModel] | None = None) -> list[ConfigIssue]:
    """One issue per error; an unknown key of ``root``'s tree gets the closest known key."""
    issues: list[ConfigIssue] = []
    for err in exc.errors(include_url=False):
        loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
        if err["type"] == "path_error":
            ctx = err.get("ctx") or {}
            rel = str(ctx["path"])
            base = _join("", loc)
            path = rel if rel.startswith("models[") else (f"{base}.{rel}" if base else rel)
            issues.append(ConfigIssue(path, str(ctx["message"])))
            continue
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            known = known_keys(root, loc) if root is not None and loc else []
            msg = "unknown key" + did_you_mean(str(loc[-1]), known) if loc else "unknown key"
        elif err["type"] == "literal_error":
            msg = f"{msg}, got {err.get('input')!r}"
        elif err["type"].startswith("value_error"):
            msg = msg.removeprefix("Value error, ")
        issues.append(ConfigIssue(_join("", loc), msg))
    return issues
