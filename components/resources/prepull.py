"""``ImagePrePuller``: registers exactly the DaemonSet ``components.manifests.prepull`` builds."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.config import StackConfig
from components.manifests.prepull import image_prepuller
from components.planning.timing import image_pull_budget_seconds
from components.resources.registration import register_object, resource_name

__all__ = ["TYPE_TOKEN", "ImagePrePuller", "ImagePrePullerArgs"]

TYPE_TOKEN = "vllm-platform:serving:ImagePrePuller"


@dataclass(frozen=True)
class ImagePrePullerArgs:
    config: StackConfig
    # The environment's namespace (an Output of EnvironmentNamespace, so the DaemonSet waits for
    # it); it resolves to ``config.namespace_name``, which the builder puts in the manifest.
    namespace: pulumi.Input[str]


class ImagePrePuller(pulumi.ComponentResource):
    """The DaemonSet that pulls the stack's vLLM images onto every GPU node."""

    def __init__(
        self, name: str, args: ImagePrePullerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        obj = image_prepuller(args.config)
        if obj is not None:
            # pulumi-kubernetes awaits a DaemonSet's rollout (provider/pkg/await/awaiters.go:
            # 99,172-177,185 at v4.32.0); every GPU node pulls the images first, which the
            # default 10-minute timeout may not cover for a multi-GB image.
            minutes = f"{-(-image_pull_budget_seconds(args.config.timing) // 60)}m"
            register_object(
                resource_name(name, obj),
                obj,
                pulumi.ResourceOptions(
                    parent=self,
                    custom_timeouts=pulumi.CustomTimeouts(create=minutes, update=minutes),
                ),
                namespace=args.namespace,
            )
        self.register_outputs({})
