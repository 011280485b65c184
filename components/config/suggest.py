"""Did-you-mean for the names a stack file gets wrong: keys (as written, camelCase, at their
place in the config model), GPU plans, and the project's key prefix."""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean X?)`` for the closest choice, or ``""``."""
    options = list(choices)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    lowered = word.lower()
    if not close:
        # a different case, or the start of exactly one choice (prod: production)
        close = [c for c in options if c.lower() == lowered]
        starts = [c for c in options if len(word) >= 3 and c.lower().startswith(lowered)]
        close = close or (starts if len(starts) == 1 else [])
    return f" (did you mean {close[0]}?)" if close else ""


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds (through Optional, list, dict, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _keys(model: type[BaseModel]) -> dict[str, type[BaseModel] | None]:
    """Each key as written in the stack file, and the model under it (if any)."""
    out: dict[str, type[BaseModel] | None] = {}
    for name, field in model.model_fields.items():
        inner = _models_in(field.annotation)
        out[field.alias or name] = inner[0] if inner else None
    return out


def known_keys(root: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The keys allowed where ``loc`` (a validation error's location, the unknown key last)
    points, or [] when the location is not a model's."""
    model: type[BaseModel] | None = root
    for part in loc[:-1]:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        model = _keys(model).get(part)
    return list(_keys(model)) if model is not None else []
