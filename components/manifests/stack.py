"""Every Kubernetes object a stack applies, from the same pure builders the components use.

This is what ``python -m ops render`` writes and what ``ops plan`` builds to catch builder
errors offline. Secret values are never known here: Secrets carry ``REDACTED``.
"""

from __future__ import annotations

from typing import Any

from components.config import ConfigError, ConfigIssue, LoadedStack, StackConfig
from components.manifests.health_reporter import health_reporter_objects
from components.manifests.namespace import namespace_objects
from components.manifests.prepull import image_prepuller
from components.manifests.vllm.render import model_objects
from components.planning.capacity import StackPlan, plan_stack


def stack_objects(loaded: LoadedStack, plan: StackPlan) -> list[dict[str, Any]]:
    """Namespace-level objects (and the image pre-puller), then each model's, then the health
    reporter's, in apply order.

    Raises ``ValueError`` (naming the config key) when a builder rejects the configuration.
    """
    cfg = loaded.config
    # A gated model cannot deploy without the token (the program refuses), so its Secret is
    # part of what the stack applies even when this offline reading cannot see the value.
    with_hf = "hfToken" in loaded.secrets_set or any(m.needs_hf_token for m in cfg.models)
    objects = namespace_objects(cfg, hf_token_set=with_hf)
    prepuller = image_prepuller(cfg)
    if prepuller is not None:
        objects.append(prepuller)
    owners: list[int | None] = [None] * len(objects)
    for i, model in enumerate(cfg.models):
        built = model_objects(cfg, model, plan.model(model.name))
        objects += built
        owners += [i] * len(built)
    objects += health_reporter_objects(cfg)
    owners += [None] * (len(objects) - len(owners))
    _refuse_name_collisions(cfg, objects, owners)
    return objects


def _refuse_name_collisions(
    cfg: StackConfig, objects: list[dict[str, Any]], owners: list[int | None]
) -> None:
    """Two objects of one kind with one name in one namespace would be one object fighting over
    two owners (a model named ``<other>-smoke``, ``<other>-pods`` or ``default-deny-ingress``).
    Refused, naming the model that brought the second one."""
    seen: dict[tuple[str, str, str], int | None] = {}
    issues: list[ConfigIssue] = []
    for obj, owner in zip(objects, owners, strict=True):
        meta = obj["metadata"]
        key = (obj["kind"], str(meta.get("namespace", "")), str(meta["name"]))
        if key not in seen:
            seen[key] = owner
            continue
        first = seen[key]
        culprit = owner if owner is not None else first
        whose = "the namespace's" if first is None else f"models[{first}]'s"
        if owner is None and first is not None:
            whose = "the platform's"
        path = f"models[{culprit}].name" if culprit is not None else "namespace"
        issues.append(
            ConfigIssue(
                path,
                f"{cfg.models[culprit].name if culprit is not None else key[2]!r} makes a "
                f"{key[0]} named {key[2]!r}, which is already {whose}; choose another name",
            )
        )
    if issues:
        raise ConfigError(issues)


def validate_stack(loaded: LoadedStack) -> tuple[StackPlan, list[dict[str, Any]]]:
    """Everything after the config model refuses, in one place for ``ops plan``, the program
    and ``ops rollback``: planning (memory, placement, concurrency) and what the builders
    refuse (two objects, one name). Raises ``ConfigError`` with every issue's key path."""
    plan = plan_stack(loaded.config)
    return plan, stack_objects(loaded, plan)
