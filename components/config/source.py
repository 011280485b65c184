"""Where a stack's raw config comes from: the stack file (offline) or the running Pulumi program.

Both produce the same thing for ``load_stack_config``: the ``vllm-platform:*`` keys with the
prefix stripped, values as JSON-like data, and the set of keys that are Pulumi secrets. Secret
values are never returned; a secret key maps to ``SECRET``.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import yaml

from components.config import PROJECT, ConfigError, LoadedStack, load_stack_config
from components.config.errors import ConfigIssue
from components.config.secrets import foreign_key_issues
from components.config.yaml_strict import load_strict


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


def _json_issues(value: Any, path: str) -> list[ConfigIssue]:
    """Pulumi hands objects to the program as JSON: anything JSON cannot carry (a YAML timestamp,
    binary, a set, a non-string key, NaN) would read differently there, so it is refused."""
    if value is None or isinstance(value, (str, bool, int)):
        return []
    if isinstance(value, float):
        return [] if math.isfinite(value) else [ConfigIssue(path, "not a finite number")]
    if isinstance(value, list):
        return [i for n, v in enumerate(value) for i in _json_issues(v, f"{path}[{n}]")]
    if isinstance(value, dict):
        out: list[ConfigIssue] = []
        for k, v in value.items():
            if not isinstance(k, str):
                out.append(ConfigIssue(f"{path}.{k}", "keys must be strings (quote the key)"))
            else:
                out += _json_issues(v, f"{path}.{k}")
        return out
    kind = type(value).__name__
    return [ConfigIssue(path, f"a YAML {kind} is not a JSON value; quote it")]


class NestedTooDeeplyError(ValueError):
    """A config value whose JSON nests deeper than Python's parser goes (a RecursionError)."""

    MESSAGE: Final = "nested too deeply to be a config value (JSON the program cannot decode)"


def pulumi_value(value: Any) -> Any:
    """How the running program reads one config value (``load_from_pulumi``): the engine passes
    every value as a string, objects as JSON, and the program JSON-decodes each string.
    ``NestedTooDeeplyError`` when the JSON nests too deeply to decode."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except RecursionError:
        raise NestedTooDeeplyError from None
    except ValueError:
        return value


def _as_pulumi_passes_it(value: Any) -> str:
    """A stack file's top-level value as the engine passes it: scalars as their text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _one_reading(raw: dict[str, Any]) -> tuple[dict[str, Any], list[ConfigIssue]]:
    """Read the stack file's project values exactly as the program will see them."""
    issues: list[ConfigIssue] = []
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if value is SECRET:
            out[key] = value
            continue
        found = _json_issues(value, key)
        if found:
            issues += found
            continue
        if value is None:
            issues.append(ConfigIssue(key, "has no value; give one or remove the key"))
            continue
        try:
            decoded = pulumi_value(_as_pulumi_passes_it(value))
        except NestedTooDeeplyError:
            issues.append(ConfigIssue(key, NestedTooDeeplyError.MESSAGE))
            continue
        if isinstance(value, str) and (decoded is None or isinstance(decoded, bool)):
            issues.append(
                ConfigIssue(
                    key,
                    f"{value!r} is text here but the program reads it as JSON "
                    f"({json.dumps(decoded)}): Pulumi passes top-level values as strings; "
                    "write the value you mean without quotes, or another value",
                )
            )
            continue
        out[key] = decoded
    return out, issues


def misprefixed_key_issues(config: Mapping[str, Any]) -> list[ConfigIssue]:
    """A key under a prefix that is nearly the project's (``vllm_platform:models``) is read by
    nobody: Pulumi hands it to the program under that other namespace, which it ignores."""
    project = PROJECT.replace("-", "").replace("_", "").lower()
    issues: list[ConfigIssue] = []
    for key in config:
        namespace, sep, name = key.partition(":")
        if not sep or namespace == PROJECT:
            continue
        squashed = namespace.replace("-", "").replace("_", "").lower()
        if squashed == project or difflib.SequenceMatcher(None, squashed, project).ratio() > 0.85:
            issues.append(
                ConfigIssue(
                    key,
                    f"is under the prefix {namespace}:, not this project's, so it is ignored "
                    f"(did you mean {_PREFIX}{name}?)",
                )
            )
    return issues


def _environments(path: Path, doc: Mapping[str, Any]) -> tuple[str, ...]:
    """The Pulumi ESC environments the stack file imports (``environment:``)."""
    value = doc.get("environment")
    if value is None:
        return ()
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise StackFileError(f"{path}: `environment:` must be a list of ESC environment names")
    return tuple(names)


def _read(path: Path) -> tuple[dict[str, Any], set[str], list[ConfigIssue], tuple[str, ...]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StackFileError(f"{path}: cannot read the stack file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise StackFileError(f"{path}: not UTF-8 text") from None
    try:
        doc = load_strict(text) or {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise StackFileError(f"{path}{where}: not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path}: not valid YAML ({exc})") from None
    except RecursionError:
        raise StackFileError(f"{path}: nested too deeply to be a stack file") from None
    if not isinstance(doc, Mapping):
        raise StackFileError(f"{path}: expected a mapping with a `config:` key")
    config = doc.get("config") or {}
    if not isinstance(config, Mapping):
        raise StackFileError(f"{path}: `config:` must be a mapping of keys to values")
    bad_keys = [k for k in config if not isinstance(k, str)]
    if bad_keys:
        raise StackFileError(f"{path}: config keys must be strings, got {bad_keys[0]!r}")
    secure = {k for k, v in config.items() if isinstance(v, Mapping) and set(v) == {"secure"}}
    issues = foreign_key_issues(config, secure, _PREFIX) + misprefixed_key_issues(config)
    raw, secrets = project_keys(config)
    raw, reading = _one_reading(raw)
    return raw, secrets, issues + reading, _environments(path, doc)


def read_stack_file(path: Path) -> tuple[dict[str, Any], set[str]]:
    """The project keys of a stack file, read as the program reads them (issues dropped)."""
    raw, secrets, _, _ = _read(path)
    return raw, secrets


def stack_name(path: Path) -> str | None:
    """The stack a stack file is for: ``Pulumi.<stack>.yaml`` (None for another file name)."""
    name = path.name
    if name.startswith("Pulumi.") and name.endswith(".yaml") and len(name) > len("Pulumi..yaml"):
        return name[len("Pulumi.") : -len(".yaml")]
    return None


def load_from_stack_file(path: Path) -> LoadedStack:
    """The stack file's config. With ESC environments imported, keys they may set are not
    seen here: ``LoadedStack.imported`` names them for the plan to say so."""
    raw, secrets, issues, imported = _read(path)
    if issues:
        # What cannot be read as the program reads it is reported alone: validating the rest
        # without those keys would add "field required" noise for the same key.
        raise ConfigError(issues)
    return load_stack_config(raw, secrets, stack=stack_name(path), imported=imported)


def load_from_pulumi() -> LoadedStack:
    """The running program's config (inside ``pulumi up``/``preview`` or the mock runtime)."""
    import pulumi  # noqa: PLC0415 (ops plan never needs it)
    from pulumi.runtime import config as runtime_config  # noqa: PLC0415

    # The language host hands the whole config map to set_all_config; reading it lets us reject
    # unknown `vllm-platform:*` keys, which pulumi.Config alone cannot enumerate.
    all_config = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret_keys = {k for k in all_config if runtime_config.is_config_secret(k)}
    secret_keys |= set(runtime_config.get_config_secret_keys_env())
    issues = foreign_key_issues(all_config, secret_keys, _PREFIX)
    issues += misprefixed_key_issues(all_config)
    decoded: dict[str, Any] = {}
    for key, value in all_config.items():
        try:
            decoded[key] = pulumi_value(value)
        except NestedTooDeeplyError:
            if key.startswith(_PREFIX):
                issues.append(ConfigIssue(key[len(_PREFIX) :], NestedTooDeeplyError.MESSAGE))
    raw, secrets = project_keys(decoded, secret_keys=secret_keys)
    for key in [k for k, v in raw.items() if v is None]:
        # `namespace: "null"` in the stack file: ops plan refuses it too (see _one_reading).
        issues.append(ConfigIssue(key, "has no value (JSON null); give one or remove the key"))
        del raw[key]
    return load_stack_config(raw, secrets, issues=issues, stack=pulumi.get_stack())
