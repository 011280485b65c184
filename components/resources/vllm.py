"""``VllmDeployment``: registers exactly the objects ``model_objects`` builds for one model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pulumi

from components.config import ModelConfig, StackConfig, endpoint_url
from components.contract import COMPONENT_LABEL
from components.manifests.k8s_semantics import awaits
from components.manifests.toolkit import Manifest
from components.manifests.vllm.names import workload_name
from components.manifests.vllm.render import WORKLOAD_KINDS, model_objects
from components.manifests.vllm.smoke import SMOKE_ACTIVE_DEADLINE_SECONDS
from components.manifests.vllm.streamer import STAGE_COMPONENT, stage_job_name
from components.manifests.vllm.workload import rollout_timeouts
from components.planning.capacity import ModelPlan
from components.resources.registration import child_name, register_object

TYPE_TOKEN = "vllm-platform:serving:VllmDeployment"


@dataclass(frozen=True)
class VllmDeploymentArgs:
    model: ModelConfig
    """The model's spec (rollout timeouts, autoscaling)."""
    objects: Sequence[Manifest]
    """Exactly what is registered: ``model_objects`` for this model."""
    namespace: pulumi.Input[str]
    """The environment's namespace (an output of EnvironmentNamespace, so every object waits
    for it); it must resolve to ``expected_namespace``, which the builders put in the objects."""
    expected_namespace: str
    rollout_seconds: tuple[int, int]
    """(create, update) deadlines of the workload's rollout (``rollout_timeouts``)."""
    rollout_gate: pulumi.Resource | None = None
    """The model's ``RegistryRollout``: the workload depends on it (``depends_on``), so the
    registry says ``rolling_out`` before any pod changes. Not through a value: its output is
    unknown in a preview, and an unknown namespace would show the workload as replaced."""
    image_gate: pulumi.Resource | None = None
    """The image pre-puller's DaemonSet: the workload depends on it too, so an image bump is
    pulled on every GPU node before the new pods start (docs/time-to-ready.md)."""
    pull_seconds: int = 0
    """The pre-puller's update timeout when there is one: the rollout deadline includes it."""
    weights_gate: pulumi.Resource | None = None
    """A streamed model's Object Storage key Secret: its staging Job and workload wait for it
    (a missing ``secretKeyRef`` leaves the pods in CreateContainerConfigError)."""


def vllm_deployment_args(
    cfg: StackConfig,
    model: ModelConfig,
    plan: ModelPlan,
    namespace: pulumi.Input[str],
    at: datetime | None = None,
) -> VllmDeploymentArgs:
    """The component's arguments for one model of the stack, built by the pure builders
    (a kept revision's window judged at ``at``, default now)."""
    return VllmDeploymentArgs(
        model=model,
        objects=tuple(model_objects(cfg, model, plan, at)),
        namespace=namespace,
        expected_namespace=cfg.namespace_name,
        rollout_seconds=rollout_timeouts(cfg, model),
    )


def _minutes(seconds: int) -> str:
    return f"{-(-seconds // 60)}m"


_SMOKE_TIMEOUT_SECONDS = SMOKE_ACTIVE_DEADLINE_SECONDS + 5 * 60
# Between the rollout marker and the workload's update: the model's other objects (ConfigMaps,
# Services, policies) are applied; a generous bound.
_DEADLINE_MARGIN_SECONDS = 5 * 60


def smoke_job_name_of(args: VllmDeploymentArgs) -> str:
    """The name of the smoke Job the model's objects hold (a hash of what is served)."""
    [job] = [o for o in args.objects if o["kind"] == "Job" and not _stages(o)]
    return str(job["metadata"]["name"])


def _stages(obj: Manifest) -> bool:
    """Whether ``obj`` is a streamed model's staging Job or its policy (streamer.py)."""
    return bool(obj["metadata"].get("labels", {}).get(COMPONENT_LABEL) == STAGE_COMPONENT)


def rollout_deadline_seconds(args: VllmDeploymentArgs) -> int:
    """How long an update of the model may run before Pulumi has given up on it: the workload's
    update timeout, after the image pre-puller's when the workload waits for one, then the smoke
    Job's (each as rounded up to minutes below), plus a margin. A ``rolling_out`` registry row
    older than this has failed."""
    minutes = [args.rollout_seconds[1], _SMOKE_TIMEOUT_SECONDS, args.pull_seconds]
    return 60 * sum(-(-s // 60) for s in minutes) + _DEADLINE_MARGIN_SECONDS


def _succeeded(status: Any) -> bool:
    count = status.get("succeeded") if isinstance(status, dict) else getattr(status, "succeeded", 0)
    return bool(count)


class VllmDeployment(pulumi.ComponentResource):
    """One model's vLLM server, Service, policies, monitoring and smoke test."""

    endpoint_url: pulumi.Output[str]
    service_name: pulumi.Output[str]
    workload_name: pulumi.Output[str]
    smoke_test_job_name: pulumi.Output[str]
    ready: pulumi.Output[bool]

    def __init__(
        self, name: str, args: VllmDeploymentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        namespace = _checked_namespace(args)
        made: dict[str, pulumi.CustomResource] = {}
        for obj in _registration_order(args):
            key = child_name(name, obj).removeprefix(f"{name}-")
            child_opts, meta_ns = _child_options(self, args, obj, namespace, made)
            made[key] = register_object(f"{name}-{key}", obj, child_opts, namespace=meta_ns)

        expected = args.expected_namespace
        service = made["service"]
        job = made["job-smoke"]
        self.endpoint_url = pulumi.Output.all(
            _meta_field(service, "name"), _meta_field(service, "namespace")
        ).apply(lambda v: endpoint_url(str(v[0]), expected) if v[1] == expected else "")
        self.service_name = _meta_field(service, "name")
        self.workload_name = _meta_field(made[_workload_key(args.model)], "name")
        self.smoke_test_job_name = _meta_field(job, "name")
        self.ready = job.status.apply(_succeeded)  # type: ignore[attr-defined]
        self.register_outputs(
            {
                "endpoint_url": self.endpoint_url,
                "service_name": self.service_name,
                "workload_name": self.workload_name,
                "smoke_test_job_name": self.smoke_test_job_name,
                "ready": self.ready,
            }
        )


def _checked_namespace(args: VllmDeploymentArgs) -> pulumi.Output[str]:
    """The namespace output, failing the deployment if it is not the one the objects name."""
    model, expected = args.model, args.expected_namespace

    def same_namespace(ns: str) -> str:
        if ns != expected:
            raise ValueError(
                f"{model.name}: namespace {ns!r} is not the config's namespace {expected!r}"
            )
        return ns

    return pulumi.Output.from_input(args.namespace).apply(same_namespace)


def _child_options(
    parent: pulumi.Resource,
    args: VllmDeploymentArgs,
    obj: Manifest,
    namespace: pulumi.Output[str],
    made: dict[str, pulumi.CustomResource],
) -> tuple[pulumi.ResourceOptions, pulumi.Input[str]]:
    """How one object is registered: its timeouts and ordering, and the namespace value it gets
    (for the smoke Job, one that resolves only once the objects it tests exist)."""
    model = args.model
    create_s, update_s = args.rollout_seconds
    kind = obj["kind"]
    opts_kw: dict[str, Any] = {"parent": parent}
    meta_ns: pulumi.Input[str] = namespace
    if kind in WORKLOAD_KINDS:
        opts_kw |= _workload_options(args, made)
    elif kind == "Service" and model.rollout.keep_previous:
        # Blue/green: the Services' selectors name the served revision; they flip to a new one
        # only once its workload is ready (the kept revision serves until then), and back to
        # the kept one on a rollback, which changes no workload.
        opts_kw["depends_on"] = [made[_workload_key(model)]]
    elif kind == "Service" and awaits(obj):
        # The Service awaiter waits while an endpoint is not-ready (a loading pod with an
        # address) and fails at its timeout then; it needs no ready one, so it proves nothing
        # about the model. The workload's timeouts keep a long load from failing it.
        opts_kw["custom_timeouts"] = pulumi.CustomTimeouts(
            create=_minutes(create_s), update=_minutes(update_s)
        )
    elif kind == "Job" and _stages(obj):
        opts_kw |= _stage_options(args, obj)
    elif kind == "Job":
        # Delete-first: a create-first replacement (the name changes with every new spec)
        # leaves the old Job pending delete when the new one fails, and a rollback's plain
        # Create of that name then fails with AlreadyExists (docs/provider-semantics.md).
        opts_kw["delete_before_replace"] = True
        smoke_minutes = _minutes(_SMOKE_TIMEOUT_SECONDS)
        opts_kw["custom_timeouts"] = pulumi.CustomTimeouts(
            create=smoke_minutes, update=smoke_minutes
        )
        # Through the namespace value the Job depends on the (awaited) server, its
        # Services (the headless one names every replica) and the smoke policy: it is
        # created only once those are ready.
        upstream = (_workload_key(model), "service", "service-pods", "networkpolicy-smoke")
        meta_ns = pulumi.Output.all(namespace, *(made[k].id for k in upstream)).apply(
            lambda values: str(values[0])
        )
    return pulumi.ResourceOptions(**opts_kw), meta_ns


def _workload_options(
    args: VllmDeploymentArgs, made: dict[str, pulumi.CustomResource]
) -> dict[str, Any]:
    """The served workload's timeouts, its replica count's owner and what it waits for."""
    model = args.model
    create_s, update_s = args.rollout_seconds
    # Pulumi waits for the rollout; its 10-minute default would fail a model that is still
    # downloading or loading within its budgets.
    opts_kw: dict[str, Any] = {
        "custom_timeouts": pulumi.CustomTimeouts(
            create=_minutes(create_s), update=_minutes(update_s)
        )
    }
    if model.autoscaled:
        opts_kw["ignore_changes"] = ["spec.replicas"]  # KEDA owns the count
    # The SDK registers the workload only once the marker's and the pre-puller's registrations
    # (create/update, await included) finished (docs/provider-semantics.md, "Rollout marker").
    gates = [g for g in (args.rollout_gate, args.image_gate) if g is not None]
    # A streamed model's replicas read what its staging Job copied: after it completed (not
    # through a value, for the rollout gate's reason), with the key's Secret in place.
    if model.streams_weights:
        gates.append(made[_stage_key(model)])
    if args.weights_gate is not None:
        gates.append(args.weights_gate)
    if gates:
        opts_kw["depends_on"] = gates
    return opts_kw


def _stage_options(args: VllmDeploymentArgs, job: Manifest) -> dict[str, Any]:
    """The staging Job: its name is fixed per revision, so a new revision is a new Job,
    delete-first like the smoke Job; Pulumi waits for Complete=True past the Job's own
    ``activeDeadlineSeconds``, after the key's Secret exists."""
    minutes = _minutes(job["spec"]["activeDeadlineSeconds"] + 5 * 60)
    opts_kw: dict[str, Any] = {
        "delete_before_replace": True,
        "custom_timeouts": pulumi.CustomTimeouts(create=minutes, update=minutes),
    }
    if args.weights_gate is not None:
        opts_kw["depends_on"] = [args.weights_gate]
    return opts_kw


def _workload_key(model: ModelConfig) -> str:
    """The served workload's key in ``made`` (its child name without the component's)."""
    obj = {
        "kind": "StatefulSet" if model.uses_statefulset else "Deployment",
        "metadata": {"name": workload_name(model)},
    }
    return child_name(model.name, obj).removeprefix(f"{model.name}-")


def _stage_key(model: ModelConfig) -> str:
    """The staging Job's key in ``made``."""
    obj = {"kind": "Job", "metadata": {"name": stage_job_name(model)}}
    return child_name(model.name, obj).removeprefix(f"{model.name}-")


def _registration_order(args: VllmDeploymentArgs) -> list[Manifest]:
    """The objects in apply order; with keepPrevious the staging Job and the workloads first,
    since the Services wait for the served one and it for the Job (``_child_options``)."""
    if not args.model.rollout.keep_previous:
        return list(args.objects)
    first = [o for o in args.objects if o["kind"] in WORKLOAD_KINDS or _stages(o)]
    return first + [o for o in args.objects if o not in first]


def _meta_field(resource: pulumi.CustomResource, field: str) -> pulumi.Output[str]:
    meta: pulumi.Output[Any] = resource.metadata  # type: ignore[attr-defined]
    return meta.apply(lambda m: str(m.get(field) if isinstance(m, dict) else getattr(m, field)))
