"""The pack's policies: ``policy.rules`` wrapped as pulumi-policy ``Policy`` objects.

Nothing here starts a server (only ``policy/__main__.py`` builds the ``PolicyPack``), so tests
call ``policy.validate(args, report_violation)`` on these objects with hand-built arguments.

The engine hands policies property *proxies* that raise on any value unknown during preview;
``plain`` copies them into ordinary dicts and lists with ``UNKNOWN`` in place of such
values, so one unknown field never aborts a whole stack policy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Secret,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from components.contract import ENVIRONMENTS
from policy import rules
from policy.objects import DEFAULT_GPU_POOL_MAX_NODES, Resource, Violation
from policy.values import UNKNOWN

GPU_POOL_BUDGET: Final = "gpu-pool-budget"
_MANDATORY: Final = EnforcementLevel.MANDATORY

ResourceCheck = Callable[[str, Mapping[str, Any]], list[str]]
StackCheck = Callable[[Sequence[Resource]], list[Violation]]


def plain(value: Any) -> Any:
    """Deep copy of engine properties: proxies to dicts/lists, secrets unwrapped, unknowns to
    ``UNKNOWN``."""
    if isinstance(value, Secret):
        return plain(value.value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in value:
            try:
                out[str(key)] = plain(value[key])
            except UnknownValueError:
                out[str(key)] = UNKNOWN
        return out
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items: list[Any] = []
        for i in range(len(value)):
            try:
                items.append(plain(value[i]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def stack_resources(args: StackValidationArgs) -> list[Resource]:
    return [Resource(r.resource_type, r.urn, r.name, plain(r.props)) for r in args.resources]


def gpu_pool_budget_config(config: Mapping[str, Any]) -> dict[str, int]:
    """Per-environment maximum GPU nodes: the defaults, overridden by the policy config."""
    budgets = dict(DEFAULT_GPU_POOL_MAX_NODES)
    for env in ENVIRONMENTS:
        value = config.get(env)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            budgets[env] = int(value)
    return budgets


def _resource_policy(name: str, description: str, check: ResourceCheck) -> Policy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in check(args.resource_type, plain(args.props)):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=_MANDATORY
    )


def _stack_policy(name: str, description: str, check: StackCheck) -> Policy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for v in check(stack_resources(args)):
            report_violation(v.message, v.urn)

    return StackValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=_MANDATORY
    )


def _validate_gpu_pool_budget(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    budgets = gpu_pool_budget_config(args.get_config())
    for v in rules.check_gpu_pool_budget(stack_resources(args), budgets):
        report_violation(v.message, v.urn)


_BUDGET_SCHEMA: Final = PolicyConfigSchema(
    properties={
        env: {
            "type": "integer",
            "minimum": 0,
            "default": DEFAULT_GPU_POOL_MAX_NODES[env],
            "description": f"most GPU nodes the {env} GPU pool may scale to",
        }
        for env in ENVIRONMENTS
    }
)

POLICIES: Final[list[Policy]] = [
    _resource_policy(
        "vllm-pinned-image",
        "vLLM containers in staging and production run a pinned image (a version tag other "
        "than latest, or a digest).",
        rules.check_pinned_images,
    ),
    _resource_policy(
        "vllm-resources-and-probes",
        "vLLM containers request GPUs (unless in CPU mode), set CPU and memory requests, and "
        "have startup, readiness and liveness probes.",
        rules.check_vllm_containers,
    ),
    _resource_policy(
        "no-literal-secrets-in-env",
        "No container env var for a token, password or API key carries a literal value; "
        "secrets come through valueFrom.secretKeyRef.",
        rules.check_container_env_secrets,
    ),
    _stack_policy(
        "vllm-network-policy",
        "Every vLLM workload's pods are selected by an ingress NetworkPolicy.",
        rules.check_network_policies,
    ),
    _stack_policy(
        "vllm-production-availability",
        "Production vLLM workloads run at least two replicas and have a PodDisruptionBudget, "
        "unless downtime is explicitly allowed.",
        rules.check_production_availability,
    ),
    StackValidationPolicy(
        name=GPU_POOL_BUDGET,
        description="The GPU node pool's autoscaler maximum stays within the environment's "
        "budget (policy config: maximum nodes per environment).",
        validate=_validate_gpu_pool_budget,
        enforcement_level=_MANDATORY,
        config_schema=_BUDGET_SCHEMA,
    ),
    _stack_policy(
        "routed-models-registered",
        "Every routed vLLM model has a registry entry, and every routed registry entry has a "
        "vLLM server in the stack.",
        rules.check_routed_models_registered,
    ),
]
