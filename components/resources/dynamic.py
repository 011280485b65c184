"""The base of the program's dynamic resources: it leaves pulumi's pickler as it found it."""

from __future__ import annotations

import pickle
from typing import Any

import pulumi
from pulumi.dynamic import Resource

# pulumi.dynamic's serialize_provider (pulumi 3.272) wraps pickle._Pickler._batch_setitems in one
# more sorting layer on every dynamic resource and never unwraps it: pickling cost grows with
# every resource (quadratic over a stack) and past ~970 resources in one process it raises
# RecursionError. Each dynamic resource here puts the pristine methods back once its provider is
# serialized; the pickled bytes are the same (the wrappers only sort, and sorting is idempotent).
PRISTINE_PICKLER = (pickle._Pickler._batch_setitems, pickle._Pickler.save_dict)  # type: ignore[attr-defined]


class DynamicResource(Resource):
    """A dynamic resource that does not leave pulumi's pickler patches stacked behind it."""

    def __init__(
        self,
        provider: Any,
        name: str,
        props: dict[str, Any],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        try:
            super().__init__(provider, name, props, opts)
        finally:
            pickle._Pickler._batch_setitems, pickle._Pickler.save_dict = PRISTINE_PICKLER  # type: ignore[attr-defined]


def pickler_is_pristine() -> bool:
    """True when no dynamic resource left a pickler patch behind."""
    current = (pickle._Pickler._batch_setitems, pickle._Pickler.save_dict)  # type: ignore[attr-defined]
    return current == PRISTINE_PICKLER
