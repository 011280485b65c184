"""Every Kubernetes object a stack applies, from the same pure builders the components use.

This is what ``python -m ops render`` writes and what ``ops plan`` builds to catch builder
errors offline. Secret values are never known here: Secrets carry ``REDACTED``.
"""

from __future__ import annotations

from typing import Any

from components.config import LoadedStack
from components.manifests.health_reporter import health_reporter_objects
from components.manifests.namespace import namespace_objects
from components.manifests.prepull import image_prepuller
from components.manifests.vllm.render import model_objects
from components.planning.capacity import StackPlan

__all__ = ["stack_objects"]


def stack_objects(loaded: LoadedStack, plan: StackPlan) -> list[dict[str, Any]]:
    """Namespace-level objects (and the image pre-puller), then each model's, then the health
    reporter's, in apply order.

    Raises ``ValueError`` (naming the config key) when a builder rejects the configuration.
    """
    cfg = loaded.config
    objects = namespace_objects(cfg, hf_token_set="hfToken" in loaded.secrets_set)
    prepuller = image_prepuller(cfg)
    if prepuller is not None:
        objects.append(prepuller)
    for model in cfg.models:
        objects += model_objects(cfg, model, plan.model(model.name))
    objects += health_reporter_objects(cfg)
    return objects
