"""One environment cannot take another's place: names that belong to another environment (its
namespace, its registry roles, its stack, its cluster stack, its weights bucket) and the GPU
enablement of a cluster another stack owns are refused, each with the key that names them.

A name belongs to an environment when one of its words names it (``ENVIRONMENT_WORDS``:
``vllm-prod`` is production's, ``vllm_registry_writer_development`` development's). The stacks
cannot see each other's config, so the name is what they agree on.
"""

from __future__ import annotations

from typing import Final

from components.contract import environments_named

# Environments that may share a cluster: development creates the non-production cluster and
# staging attaches to it; production has its own.
_TIER: Final = {"development": "non-production", "staging": "non-production"}


def other_environment(env: str, name: str) -> str | None:
    """Another environment ``name`` names (the first in sorted order), None when it names none
    or only ``env``."""
    others = sorted(environments_named(name) - {env})
    return others[0] if others else None


def _named_for(env: str, name: str, why: str) -> str | None:
    """``why`` (formatted with env and other) when ``name`` names another environment."""
    other = other_environment(env, name)
    if other is None:
        return None
    return f"{name!r} names the environment {other!r}: " + why.format(env=env, other=other)


def namespace_issue(env: str, namespace: str) -> str | None:
    return _named_for(
        env,
        namespace,
        "on a shared cluster the {other} stack's objects live there, and this {env} stack "
        "would take them over or fail on them; use a namespace of {env}'s own (default: "
        "vllm-{env})",
    )


def role_issue(env: str, role: str) -> str | None:
    return _named_for(
        env,
        role,
        "a {env} stack writing as (or managing) the {other} stack's role takes its place in "
        "the registry, whatever the server; name it for '{env}' alone (e.g. "
        "vllm_registry_writer_{env})",
    )


def bucket_issue(env: str, bucket: str) -> str | None:
    return _named_for(
        env,
        bucket,
        "a {env} stack would stage into the {other} stack's bucket (its key reads and writes "
        "it), or fail to create it; name one for {env} alone",
    )


def stack_name_issue(env: str, stack: str) -> str | None:
    """A stack named for an environment deploys that environment."""
    found = _named_for(
        env,
        stack,
        "a stack runs the environment its name says (its registry owner, Pulumi.<stack>.yaml "
        "and the deploy workflows go by the name), not {env}; use a stack named for {env}",
    )
    return None if found is None else f"the stack's name {found}"


def stack_reference_issue(env: str, reference: str) -> str | None:
    """Production attaches only to production's clusters, the others never to production's."""
    stack = reference.rsplit("/", 1)[-1]
    tier = _TIER.get(env, env)
    foreign = sorted(e for e in environments_named(stack) if _TIER.get(e, e) != tier)
    if not foreign:
        return None
    return (
        f"{reference!r} is a {foreign[0]} stack's cluster: {env} would run its models on "
        f"{foreign[0]}'s GPUs and namespace quota; production and the other environments do not "
        "share a cluster"
    )


def gpu_enablement_issue(mode: str, enablement: str | None) -> str | None:
    """A stack attached to another stack's cluster enables no GPUs of its own."""
    if mode != "stack" or enablement in (None, "none"):
        return None
    return (
        f"{enablement} on a cluster another stack created (mode stack): that stack enables its "
        "GPUs, and a second device plugin or gpu-operator Helm release has the same names "
        "(nvidia-device-plugin, gpu-operator): the create fails, or with upsertExistingObjects "
        "this stack takes them over and its destroy removes them from under the other; leave "
        "gpuEnablement unset (none)"
    )
