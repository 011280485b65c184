"""The one base model every config section uses, and errors reported at an explicit key path."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError


def path_error(path: str, message: str) -> PydanticCustomError:
    """An error reported at an explicit key path (for checks that span several keys)."""
    return PydanticCustomError(
        "path_error", "{path}: {message}", {"path": path, "message": message}
    )


class ConfigModel(BaseModel):
    """Frozen, camelCase keys as Pulumi users write them, unknown keys refused."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        str_strip_whitespace=False,
        # JSON types only, as the program gets them: `true` is no GPU count, "3" no integer.
        strict=True,
    )
