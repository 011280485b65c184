"""Secret keys, and the scan that keeps secrets out of the stack file's plain text.

Secrets never live in the config model: the secret keys (``SECRET_KEYS``) are only checked for
presence and for being Pulumi secrets; their values are read as secret Outputs by the program.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from components.config.errors import ConfigIssue

__all__ = ["SECRET_KEYS", "secret_key_issues"]

# Secret config keys: (required, what it is for). Set with `pulumi config set --secret KEY`.
SECRET_KEYS: dict[str, tuple[bool, str]] = {
    "hfToken": (False, "Hugging Face token (needed for gated models)"),
    "vllmApiKey": (True, "API key vLLM requires on /v1 requests"),
    "registryPassword": (True, "password of the registry owner user (runs migrations)"),
    "registryWriterPassword": (
        True,
        "password of the registry writer role (this program and the health reporter)",
    ),
    "registryReaderPassword": (True, "password of the registry reader role (the API router)"),
}
_SECRETISH = re.compile(r"(password|passwd|token|secret|api[-_]?key|credential)", re.I)


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
                if isinstance(k, str) and _SECRETISH.search(k) and isinstance(v, (str, int)):
                    issues.append(
                        ConfigIssue(
                            child,
                            "secrets may not be written in the stack file; use the secret keys "
                            f"({', '.join(SECRET_KEYS)}) set with `pulumi config set --secret`",
                        )
                    )
                else:
                    walk(v, child)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                if isinstance(v, str) and _SECRETISH.search(v.split("=", 1)[0]) and "=" in v:
                    issues.append(ConfigIssue(f"{path}[{i}]", "carries a secret in plain text"))
                walk(v, f"{path}[{i}]")

    for key, value in raw.items():
        if key not in SECRET_KEYS:
            walk(value, key)
    return issues
