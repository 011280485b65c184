"""``RegistryWriterBinding``'s provider: binds the stack's writer role to its environment and
stack in the registry (the owner connects); delete unbinds it, so the role writes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pulumi.dynamic import CreateResult, DiffResult, ReadResult, UpdateResult

from components.registry.connection import connect
from components.registry.providers.base import CONNECTION, OWNER, RegistryProvider, differs, plain
from components.registry.writers import bind_writer, binding_of, unbind_writer

ROLE: Final = "role"
BINDING_INPUTS: Final[tuple[str, ...]] = (CONNECTION, ROLE, "environment", OWNER)


def diff_binding(olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffResult:
    """Update when anything changed; replace when the role changed (the old one is unbound)."""
    changed = [k for k in BINDING_INPUTS if differs(olds.get(k), news.get(k))]
    replaces = [ROLE] if ROLE in changed else []
    return DiffResult(
        changes=bool(changed), replaces=replaces, stables=[], delete_before_replace=False
    )


class RegistryWriterBindingProvider(RegistryProvider):
    """Create/update bind ``role`` to ``environment`` and ``owner_stack``; delete unbinds it."""

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        return diff_binding(_olds, _news)

    def _bind(self, p: dict[str, Any]) -> dict[str, Any]:
        with connect(p[CONNECTION], autocommit=True) as conn:
            bind_writer(conn, str(p[ROLE]), str(p["environment"]), str(p[OWNER]))
        return {k: p.get(k) for k in BINDING_INPUTS}

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = plain(props)
        return CreateResult(str(p[ROLE]), self._bind(p))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._bind(plain(_news)))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        p = plain(_props)
        with connect(p[CONNECTION], autocommit=True) as conn:
            unbind_writer(conn, str(p[ROLE]))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: the binding as stored; none means the resource is gone."""
        p = plain(props)
        with connect(p[CONNECTION], autocommit=True) as conn:
            found = binding_of(conn, str(p.get(ROLE) or id_))
        if found is None:
            return ReadResult(None, {})
        return ReadResult(id_, {**p, "environment": found[0], OWNER: found[1]})
