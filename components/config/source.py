"""Where a stack's raw config comes from: the stack file (offline) or the running Pulumi program.

Both produce the same thing for ``load_stack_config``: the ``vllm-platform:*`` keys with the
prefix stripped, values as JSON-like data, and the set of keys that are Pulumi secrets. Secret
values are never returned; a secret key maps to ``SECRET``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import yaml

from components.config import PROJECT, LoadedStack, load_stack_config

__all__ = [
    "SECRET",
    "StackFileError",
    "load_from_pulumi",
    "load_from_stack_file",
    "project_keys",
    "read_stack_file",
]


class _Secret:
    def __repr__(self) -> str:
        return "[secret]"


SECRET: Final = _Secret()
_PREFIX = f"{PROJECT}:"


class StackFileError(Exception):
    """The stack file cannot be read at all (missing, not YAML, no config map)."""


def project_keys(
    config: Mapping[str, Any], secret_keys: set[str] | None = None
) -> tuple[dict[str, Any], set[str]]:
    """Keep the project's keys, strip the prefix, replace secret values with ``SECRET``.

    A value is secret when its full key is in ``secret_keys`` (the running program) or when it
    is a ``{secure: ...}`` mapping (a stack file).
    """
    raw: dict[str, Any] = {}
    secrets: set[str] = set()
    for full_key, value in config.items():
        if not full_key.startswith(_PREFIX):
            continue
        key = full_key[len(_PREFIX) :]
        is_secure_map = isinstance(value, Mapping) and set(value) == {"secure"}
        if is_secure_map or (secret_keys is not None and full_key in secret_keys):
            raw[key] = SECRET
            secrets.add(key)
        else:
            raw[key] = value
    return raw, secrets


def read_stack_file(path: Path) -> tuple[dict[str, Any], set[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StackFileError(f"{path}: cannot read the stack file ({exc.strerror})") from None
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(doc, Mapping):
        raise StackFileError(f"{path}: expected a mapping with a `config:` key")
    config = doc.get("config") or {}
    if not isinstance(config, Mapping):
        raise StackFileError(f"{path}: `config:` must be a mapping of keys to values")
    return project_keys(config)


def load_from_stack_file(path: Path) -> LoadedStack:
    raw, secrets = read_stack_file(path)
    return load_stack_config(raw, secrets)


def _decode(value: Any) -> Any:
    """The engine passes every config value as a string; objects and scalars are JSON."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def load_from_pulumi() -> LoadedStack:
    """The running program's config (inside ``pulumi up``/``preview`` or the mock runtime)."""
    from pulumi.runtime import config as runtime_config  # noqa: PLC0415 (ops plan never needs it)

    # The language host hands the whole config map to set_all_config; reading it lets us reject
    # unknown `vllm-platform:*` keys, which pulumi.Config alone cannot enumerate.
    all_config = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret_keys = {k for k in all_config if runtime_config.is_config_secret(k)}
    secret_keys |= set(runtime_config.get_config_secret_keys_env())
    raw, secrets = project_keys(
        {k: _decode(v) for k, v in all_config.items()}, secret_keys=secret_keys
    )
    return load_stack_config(raw, secrets)
