"""``RegistryEntry``'s provider: one model's row; create registers it, delete retires it.

Health: ``create`` runs only once the smoke Job passed (its endpoint input waits for it), so it
registers ``healthy``; ``update`` writes ``healthy`` only on new smoke evidence, and a change of
only the connection or the annotations writes nothing. Ownership: the state's ``owner_stack`` is
always the stack's own (delete checks with it); the row's owner is ``row_owner_stack``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, Final
from urllib.parse import urlsplit
from uuid import UUID

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    UpdateResult,
)
from pulumi.output import Unknown
from pulumi.runtime.rpc import unwrap_rpc_secret

from components.registry import store
from components.registry.connection import connect
from components.registry.providers.base import (
    CONNECTION,
    OWNER,
    RegistryProvider,
    differs,
    entry_id_of,
    plain,
)
from components.registry.rows import (
    ADAPTER_FIELDS,
    CHANGE_KINDS,
    ENVIRONMENTS,
    KEY_FIELDS,
    SPEC_FIELDS,
    EntryId,
    EntrySpec,
    HealthStatus,
    RegistryRow,
    routing_held_for_health,
)

ROW_OWNER: Final = "row_owner_stack"
"""Output: the row's ``owner_stack`` as last written or refreshed (``OWNER`` stays the input)."""
SMOKE_EVIDENCE: Final = "smoke_evidence"
"""Input: the smoke Job that passed for what is deployed; a new value is new evidence."""
ROLLOUT: Final = "rollout"
"""Input: the model's ``RegistryRollout.rollout_id``; it changes whenever that resource started a
rollout, so the entry settles the row once the rollout's smoke test passed."""
# Inputs that describe a change rather than the desired state: they never cause an update.
ANNOTATION_FIELDS: Final[tuple[str, ...]] = ("change_kind", "note")
ENTRY_OUTPUTS: Final[tuple[str, ...]] = ("entry_id", "health_status", "registry_action")
# Inputs whose change is a change of the entry (the connection and annotations are not).
_ENTRY_FIELDS: Final[tuple[str, ...]] = (*SPEC_FIELDS, OWNER, SMOKE_EVIDENCE, ROLLOUT)
_INT_FIELDS: Final = {"max_model_len": 1, "gpus_per_replica": 0, "replicas": 0}
_BOOL_FIELDS: Final = ("routing_enabled",)


def check_entry(news: Mapping[str, Any]) -> list[CheckFailure]:
    """Reject impossible inputs at preview time (unknown values are checked at apply time)."""
    failures: list[CheckFailure] = []

    def known(name: str) -> Any:
        value = unwrap_rpc_secret(news.get(name))
        return None if isinstance(value, Unknown) else value

    for name in (CONNECTION, OWNER, *SPEC_FIELDS):
        if name not in ADAPTER_FIELDS and (name not in news or news[name] is None):
            failures.append(CheckFailure(name, "is required"))
    adapter = [known(name) for name in ADAPTER_FIELDS]
    if any(v is not None for v in adapter) and not all(isinstance(v, str) and v for v in adapter):
        failures.append(
            CheckFailure(
                "base_model_name", "an adapter's row needs all of " + ", ".join(ADAPTER_FIELDS)
            )
        )
    owner = known(OWNER)
    if owner is not None and (
        not isinstance(owner, str) or "/" not in owner or any(c.isspace() for c in owner)
    ):
        failures.append(CheckFailure(OWNER, f"must be <project>/<stack>, got {owner!r}"))
    evidence = known(SMOKE_EVIDENCE)
    if evidence is not None and (not isinstance(evidence, str) or not evidence):
        failures.append(CheckFailure(SMOKE_EVIDENCE, "must be a non-empty string or null"))
    for name in SPEC_FIELDS:
        value = known(name)
        if value is None or name in ADAPTER_FIELDS:
            continue
        if name in _INT_FIELDS:
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or value != int(value)
            ):
                failures.append(CheckFailure(name, f"must be an integer, got {value!r}"))
            elif value < _INT_FIELDS[name]:
                failures.append(CheckFailure(name, f"must be >= {_INT_FIELDS[name]}"))
        elif name in _BOOL_FIELDS:
            if not isinstance(value, bool):
                failures.append(CheckFailure(name, f"must be true or false, got {value!r}"))
        elif not isinstance(value, str) or not value:
            failures.append(CheckFailure(name, "must be a non-empty string"))
    env = known("environment")
    if isinstance(env, str) and env not in ENVIRONMENTS:
        failures.append(CheckFailure("environment", f"must be one of {', '.join(ENVIRONMENTS)}"))
    url = known("endpoint_url")
    if isinstance(url, str) and url:
        parts = urlsplit(url)
        if (
            parts.scheme not in ("http", "https")
            or not parts.netloc
            or any(c.isspace() for c in url)
        ):
            failures.append(CheckFailure("endpoint_url", f"not an http(s) URL: {url!r}"))
    kind = known("change_kind")
    if kind is not None and kind not in CHANGE_KINDS:
        failures.append(CheckFailure("change_kind", f"must be one of {', '.join(CHANGE_KINDS)}"))
    return failures


def diff_entry(olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffResult:
    """Update when a registered field, the owner, the smoke evidence or the connection changed,
    or when a refresh found the row retired or owned by another stack; replace only when the
    natural key (environment, model_name) changed. ``change_kind`` and ``note`` only annotate
    the next change and never cause one. (A connection-only change must still be an update:
    the state's outputs are what delete and refresh connect with; the update writes nothing.)
    Routing the health reporter turned off is not a change (``rows.routing_held_for_health``)."""
    replaces = [k for k in KEY_FIELDS if differs(olds.get(k), news.get(k))]
    changed = [k for k in (*_ENTRY_FIELDS, CONNECTION) if differs(olds.get(k), news.get(k))]
    old_health, old_routing = (
        unwrap_rpc_secret(olds.get(k)) for k in ("health_status", "routing_enabled")
    )
    if "routing_enabled" in changed and routing_held_for_health(old_health, old_routing):
        # The health reporter took it out of routing; an update would keep it out (no new
        # evidence), so the desired ``true`` is not drift (it would never clear otherwise).
        changed.remove("routing_enabled")
    retired = unwrap_rpc_secret(olds.get("health_status")) == "retired"
    # A refresh found the row owned by another stack (adopted away): the update is refused.
    row_owner = unwrap_rpc_secret(olds.get(ROW_OWNER))
    lost = row_owner is not None and differs(row_owner, news.get(OWNER))
    return DiffResult(
        changes=bool(changed) or retired or lost,
        replaces=replaces,
        stables=[],
        delete_before_replace=False,
    )


def _spec(props: Mapping[str, Any]) -> EntrySpec:
    values: dict[str, Any] = {name: props.get(name) for name in SPEC_FIELDS}
    for name in _INT_FIELDS:
        values[name] = int(values[name])
    return EntrySpec(**values)


def json_id(value: EntryId) -> int | str:
    """The row id as plain JSON: an integer stays one, a legacy uuid/text id becomes a string."""
    if isinstance(value, bool) or not isinstance(value, (int, str, UUID)):
        raise TypeError(f"unexpected registry id type {type(value).__name__}")
    return value if isinstance(value, (int, str)) else str(value)


def _entry_outs(props: Mapping[str, Any], row: RegistryRow, action: str | None) -> dict[str, Any]:
    """Outputs: the inputs as given, then the row's registered fields as stored.

    ``owner_stack`` is the stack's own (the input, kept in the state), never the row's: delete
    checks ownership with it, so a refresh after the row was adopted by another stack must not
    make this stack "own" it. The row's owner is ``ROW_OWNER``, which ``diff_entry`` compares
    with the input (a row another stack owns is drift)."""
    outs: dict[str, Any] = {
        k: props.get(k) for k in (CONNECTION, OWNER, SMOKE_EVIDENCE, ROLLOUT, *ANNOTATION_FIELDS)
    }
    data = asdict(row)
    outs.update({name: data[name] for name in SPEC_FIELDS})
    outs.update(
        entry_id=json_id(row.id),
        health_status=row.health_status,
        registry_action=action,
    )
    outs[ROW_OWNER] = row.owner_stack
    return outs


class RegistryEntryProvider(RegistryProvider):
    """One model's row in the registry: create registers, delete retires (the row stays)."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult(news, check_entry(news))

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        return diff_entry(_olds, _news)

    def _register(
        self, p: dict[str, Any], health_status: HealthStatus | None
    ) -> tuple[dict[str, Any], RegistryRow]:
        spec = _spec(p)
        with connect(p[CONNECTION], autocommit=True) as conn:
            outcome = store.register(
                conn,
                spec,
                health_status=health_status,
                change_kind=p.get("change_kind") or "deploy",
                note=p.get("note"),
                owner=p[OWNER],
                evidence=p.get(SMOKE_EVIDENCE),
            )
        return _entry_outs(p, outcome.entry, outcome.action), outcome.entry

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs, row = self._register(plain(props), "healthy")
        return CreateResult(entry_id_of(str(row.environment), str(row.model_name)), outs)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        olds, news = plain(_olds), plain(_news)
        with connect(news[CONNECTION], autocommit=True) as conn:
            row = store.get_entry(conn, str(news["environment"]), str(news["model_name"]))
        evidence = news.get(SMOKE_EVIDENCE)
        if row is None:
            # No row where the inputs point: the registry moved (the router reads the new one)
            # or the row was deleted by hand. Register it as ``create`` does (healthy on smoke
            # evidence; a marker found no row there, so no rollout is pending), else unknown.
            outs, _row = self._register(news, "healthy" if evidence is not None else None)
            return UpdateResult(outs)
        retired = olds.get("health_status") == "retired"
        if not retired and not any(differs(olds.get(k), news.get(k)) for k in _ENTRY_FIELDS):
            return UpdateResult(self._refresh_outputs(olds, news, row))
        # olds without the key: state written before evidence existed (keep its health).
        new_evidence = (
            evidence is not None and SMOKE_EVIDENCE in olds and olds[SMOKE_EVIDENCE] != evidence
        )
        outs, _row = self._register(news, "healthy" if new_evidence else None)
        return UpdateResult(outs)

    def _refresh_outputs(
        self, olds: dict[str, Any], news: dict[str, Any], row: RegistryRow
    ) -> dict[str, Any]:
        """Connection/annotation-only change: the row as read with the new connection (nothing
        written), and the outputs with the new connection."""
        return _entry_outs(
            {**news, SMOKE_EVIDENCE: olds.get(SMOKE_EVIDENCE), ROLLOUT: olds.get(ROLLOUT)},
            row,
            olds.get("registry_action"),
        )

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Retire the row, only when this stack owns it (``OwnershipError`` otherwise)."""
        p = plain(_props)
        stack = p.get("stack")
        with connect(p[CONNECTION], autocommit=True) as conn:
            store.retire(
                conn,
                p["environment"],
                p["model_name"],
                stack=stack,
                note=f"removed from stack {stack}" if stack else "removed from its stack",
                # State written before ownership existed has no owner: it is not checked.
                owner=p.get(OWNER),
            )

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: the row as stored; a missing or retired row means the resource is gone."""
        p = plain(props)
        environment, model_name = p.get("environment"), p.get("model_name")
        if not environment or not model_name:
            environment, _, model_name = id_.partition("/")
        with connect(p[CONNECTION], autocommit=True) as conn:
            row = store.get_entry(conn, environment, model_name)
        if row is None or row.retired:
            return ReadResult(None, {})
        return ReadResult(id_, _entry_outs(p, row, p.get("registry_action")))
