"""What the registry's dynamic providers share: plain inputs, change tests, ids, input names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pulumi.dynamic import ResourceProvider
from pulumi.output import Unknown
from pulumi.runtime.rpc import unwrap_rpc_secret

CONNECTION: Final = "connection"
"""Input and output: the DSN (the resources mark it ``additional_secret_outputs``)."""
OWNER: Final = "owner_stack"
"""Input: the stack ("<project>/<stack>") writing the row; only the owner may change it."""


def plain(props: Mapping[str, Any]) -> dict[str, Any]:
    """``props`` without Pulumi's secret envelopes (the provider process should send none)."""
    return {k: unwrap_rpc_secret(v) for k, v in props.items()}


def differs(old: Any, new: Any) -> bool:
    """An input changed (an unknown value counts as a change)."""
    if isinstance(new, Unknown) or isinstance(old, Unknown):
        return True
    return bool(unwrap_rpc_secret(old) != unwrap_rpc_secret(new))


def entry_id_of(environment: str, model_name: str) -> str:
    """The Pulumi id of a registry row's resources: its natural key."""
    return f"{environment}/{model_name}"


class RegistryProvider(ResourceProvider):
    """Base of the registry's providers: no state on the instance (it is pickled)."""

    serialize_as_secret_always = False  # the connection travels in inputs, marked secret there
