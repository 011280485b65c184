"""Validate a stack's raw config into a ``LoadedStack``, reporting every problem at once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from components.config.errors import ConfigError, ConfigIssue, issues_from
from components.config.gpu_plans import GPU_PLANS
from components.config.secrets import SECRET_KEYS, secret_key_issues
from components.config.stack import StackConfig


@dataclass(frozen=True, slots=True)
class LoadedStack:
    config: StackConfig
    secrets_set: frozenset[str]
    imported: tuple[str, ...] = ()  # Pulumi ESC environments the stack file imports: unseen

    @property
    def missing_secrets(self) -> list[str]:
        return [
            k
            for k, (required, _) in SECRET_KEYS.items()
            if (required or k == "hfToken") and k not in self.secrets_set and self._needed(k)
        ]

    @property
    def gated_models(self) -> list[str]:
        """Models whose weights need the hfToken secret."""
        return [m.name for m in self.config.models if m.needs_hf_token]

    def purpose(self, key: str) -> str:
        """What a secret key is for in this stack (the gated models, for hfToken)."""
        if key == "hfToken" and self.gated_models:
            return f"Hugging Face token: gated models {', '.join(self.gated_models)}"
        return SECRET_KEYS[key][1]

    def _needed(self, key: str) -> bool:
        if key == "hfToken":
            return bool(self.gated_models)
        if key == "registryReaderPassword":
            return self.config.registry.manage_roles
        if key == "registryWriterPassword":
            # The health reporter connects as the writer role, managed here or not.
            reporter = self.config.health_reporter.enabled
            return self.config.registry.manage_roles or reporter
        return True


def _context(raw: Mapping[str, Any], stack: str | None) -> dict[str, Any]:
    """What per-model checks need from elsewhere in the stack, when that part is itself valid,
    and the stack's name when it is known."""
    ctx: dict[str, Any] = {} if stack is None else {"stack": stack}
    env = raw.get("environment")
    if env in ("development", "staging", "production"):
        ctx["environment"] = env
    cluster = raw.get("cluster")
    pool = cluster.get("gpuPool") if isinstance(cluster, Mapping) else None
    plan_id = pool.get("type") if isinstance(pool, Mapping) else None
    if isinstance(plan_id, str) and plan_id in GPU_PLANS:
        ctx["plan"] = GPU_PLANS[plan_id]
    return ctx


def load_stack_config(
    raw: Mapping[str, Any],
    secret_keys: Iterable[str] = (),
    *,
    issues: Iterable[ConfigIssue] = (),
    stack: str | None = None,
    imported: tuple[str, ...] = (),
) -> LoadedStack:
    """Validate the project's config keys (prefix already stripped) into a ``LoadedStack``.

    ``secret_keys`` names the keys that are Pulumi secrets; their values are never looked at.
    ``issues`` are problems the reader found already (e.g. plain-text provider tokens); they are
    reported with the rest. ``stack``: the stack's name, when known (a stack named for another
    environment is refused). ``imported`` names the ESC environments a stack file imports: a
    required key missing from the file may be theirs, and the error says so. Raises
    ``ConfigError`` listing every problem found.
    """
    secrets = set(secret_keys)
    issues = [*issues, *secret_key_issues(raw, secrets)]
    data = {k: v for k, v in raw.items() if k not in SECRET_KEYS}
    config: StackConfig | None = None
    try:
        config = StackConfig.model_validate(data, context=_context(raw, stack))
    except ValidationError as exc:
        issues.extend(_unseen(issues_from(exc, StackConfig), imported))
    if issues or config is None:
        raise ConfigError(issues)
    secrets_set = frozenset(k for k in secrets if k in raw)
    return LoadedStack(config=config, secrets_set=secrets_set, imported=imported)


def _unseen(issues: list[ConfigIssue], imported: tuple[str, ...]) -> list[ConfigIssue]:
    """A required key missing from a file that imports ESC environments may be theirs."""
    if not imported:
        return issues
    where = ", ".join(imported)
    note = (
        f"not in the stack file; the imported ESC environment ({where}) may set it, but ops plan "
        "reads only the stack file: put it there to plan this stack offline"
    )
    return [ConfigIssue(i.path, note) if i.message == "Field required" else i for i in issues]
