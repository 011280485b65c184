"""``ImagePrePuller``: registers exactly the DaemonSet ``components.manifests.prepull`` builds."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.config import StackConfig
from components.manifests.prepull import image_prepuller
from components.manifests.toolkit import Manifest
from components.planning.timing import image_pull_budget_seconds
from components.resources.registration import register_child

TYPE_TOKEN = "vllm-platform:serving:ImagePrePuller"


@dataclass(frozen=True)
class ImagePrePullerArgs:
    daemon_set: Manifest | None
    """Exactly what is registered (``image_prepuller``); None when pre-pulling is off."""
    pull_budget_seconds: int
    """How long the DaemonSet's rollout may take (every GPU node pulls the images first)."""
    namespace: pulumi.Input[str]
    """The environment's namespace (an Output of EnvironmentNamespace, so the DaemonSet waits
    for it); it resolves to the namespace the builder put in the manifest."""


def image_prepuller_args(cfg: StackConfig, namespace: pulumi.Input[str]) -> ImagePrePullerArgs:
    return ImagePrePullerArgs(
        daemon_set=image_prepuller(cfg),
        pull_budget_seconds=image_pull_budget_seconds(cfg.timing),
        namespace=namespace,
    )


class ImagePrePuller(pulumi.ComponentResource):
    """The DaemonSet that pulls the stack's vLLM images onto every GPU node."""

    daemon_set: pulumi.CustomResource | None
    """What the workloads wait for (``VllmDeploymentArgs.image_gate``)."""
    pull_seconds: int

    def __init__(
        self, name: str, args: ImagePrePullerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        obj = args.daemon_set
        self.daemon_set = None
        self.pull_seconds = 0
        if obj is not None:
            # pulumi-kubernetes awaits a DaemonSet's rollout (provider/pkg/await/awaiters.go:
            # 99,172-177,185 at v4.32.0); every GPU node pulls the images first, which the
            # default 10-minute timeout may not cover for a multi-GB image.
            minutes = f"{-(-args.pull_budget_seconds // 60)}m"
            self.pull_seconds = args.pull_budget_seconds
            self.daemon_set = register_child(
                name,
                obj,
                pulumi.ResourceOptions(
                    parent=self,
                    custom_timeouts=pulumi.CustomTimeouts(create=minutes, update=minutes),
                ),
                namespace=args.namespace,
            )
        self.register_outputs({})
