"""Secret keys, and the scan that keeps secrets out of the stack file's plain text.

Secrets never live in the config model: the secret keys (``SECRET_KEYS``) are only checked for
presence and for being Pulumi secrets; their values are read as secret Outputs by the program.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from components.config.errors import ConfigIssue

# Secret config keys: (required, what it is for). Set with `pulumi config set --secret KEY`.
SECRET_KEYS: dict[str, tuple[bool, str]] = {
    # Required exactly when a model is gated (LoadedStack.missing_secrets).
    "hfToken": (False, "Hugging Face token (gated models: models[].gated)"),
    "vllmApiKey": (True, "API key vLLM requires on /v1 requests"),
    "registryPassword": (True, "password of the registry owner user (runs migrations)"),
    "registryWriterPassword": (
        True,
        "password of the registry writer role (this program and the health reporter)",
    ),
    "registryReaderPassword": (True, "password of the registry reader role (the API router)"),
}
_SECRETISH = re.compile(
    r"(password|passwd|token|secret|api[-_]?key|credential|private[-_]?key)", re.I
)
# Values that are secrets whatever key holds them (checked in every string of the config).
_SECRET_VALUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("credentials in a URL", re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s@?#]+@")),
    ("a private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")),
    ("a Hugging Face token", re.compile(r"\bhf_[A-Za-z0-9]{20,}")),
    ("an API key (sk-...)", re.compile(r"\bsk-[A-Za-z0-9_-]{16,}")),
    ("a GitHub token", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})")),
    ("a GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("an AWS access key", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a JSON Web Token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")),
    ("a bearer token", re.compile(r"\bbearer\s+[A-Za-z0-9._~+/=-]{8,}", re.I)),
)
_SECRET_MESSAGE = (
    "secrets may not be written in the stack file; use the secret keys "
    f"({', '.join(SECRET_KEYS)}) set with `pulumi config set --secret`"
)


def secret_value_reason(value: str) -> str | None:
    """What secret ``value`` carries (``"credentials in a URL"``), ``None`` when none is seen."""
    for what, pattern in _SECRET_VALUES:
        if pattern.search(value):
            return what
    return None


def foreign_key_issues(
    config: Mapping[str, Any], secure: set[str], prefix: str
) -> list[ConfigIssue]:
    """Other namespaces' keys (``linode:token``, ``postgresql:password``) in the same stack file:
    a token-like key or a secret-looking value in plain text is an error too. Values of
    ``secure`` keys are never looked at."""
    issues: list[ConfigIssue] = []
    for key, value in config.items():
        if key.startswith(prefix) or key in secure:
            continue
        name = key.split(":", 1)[-1]
        if _SECRETISH.search(name):
            issues.append(
                ConfigIssue(
                    key,
                    f"is in plain text; set it with `pulumi config set --secret {key}` (or the "
                    "provider's environment variable), and rotate the exposed value",
                )
            )
        elif isinstance(value, str) and (reason := secret_value_reason(value)) is not None:
            issues.append(ConfigIssue(key, f"carries {reason} in plain text; {_SECRET_MESSAGE}"))
    return issues


def _looks_secret(key: str, value: Any) -> bool:
    """A secret-sounding key with a scalar value. A number under a key that counts tokens
    (``typicalRequestTokens``, ``maxNumBatchedTokens``) is a count, not a credential."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return False
    if isinstance(value, int) and re.search(r"tokens$", key, re.I):
        return False
    return bool(_SECRETISH.search(key))


def secret_key_issues(raw: Mapping[str, Any], secret_keys: set[str]) -> list[ConfigIssue]:
    """Top-level secret keys must be Pulumi secrets; nothing secret-looking elsewhere."""
    issues: list[ConfigIssue] = []
    for key in SECRET_KEYS:
        if key in raw and key not in secret_keys:
            issues.append(
                ConfigIssue(
                    key,
                    f"is in plain text; set it with `pulumi config set --secret {key}` "
                    "(and rotate the exposed value)",
                )
            )

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                child = f"{path}.{k}" if path else str(k)
                if isinstance(k, str) and _looks_secret(k, v):
                    issues.append(ConfigIssue(child, _SECRET_MESSAGE))
                else:
                    walk(v, child)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                # `name=value` items (not vLLM flags: extraArgs are judged by the vLLM contract)
                if (
                    isinstance(v, str)
                    and "=" in v
                    and not v.startswith("-")
                    and _SECRETISH.search(v.split("=", 1)[0])
                ):
                    issues.append(ConfigIssue(f"{path}[{i}]", "carries a secret in plain text"))
                else:
                    walk(v, f"{path}[{i}]")
        elif isinstance(node, str) and (reason := secret_value_reason(node)) is not None:
            issues.append(ConfigIssue(path, f"carries {reason} in plain text; {_SECRET_MESSAGE}"))

    for key, value in raw.items():
        if key not in SECRET_KEYS:
            walk(value, key)
    return issues
