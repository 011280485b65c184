"""The dynamic providers' logic, free of Pulumi resources so tests can drive it directly.

The Pulumi SDK pickles a provider instance (``pulumi.dynamic.dynamic.serialize_provider``, dill
by reference for importable modules) and the engine's provider process, started from the
project root, unpickles it and calls ``check/diff/create/read/update/delete``. So: no state on
the instances, no module-level clients (every method opens and closes its own connection),
and nothing imported here that the provider process could not import.

Secrets: the dynamic provider process tells the engine it does not accept secrets, so inputs
arrive as plain values; ``_plain`` still unwraps Pulumi's secret envelope in case one does.
The connection is kept in the outputs (``delete`` and ``read`` only receive outputs) and the
resources mark it with ``additional_secret_outputs``; no other output carries it.

Engine semantics relied on (pulumi 3.272.0, ``sdk/python/lib/pulumi/dynamic/__main__.py``):
``Diff`` (l.114-134) maps ``changes`` False to DIFF_NONE, and then no ``Update`` runs and the
state keeps the old outputs; ``Update`` (l.137-152) gets the state's outputs as ``olds`` and the
new inputs as ``news`` and stores what it returns; ``Delete`` (l.155-161) and ``Read``
(l.231-237) get the state's outputs; ``Create`` (l.164-177) serializes the outputs with
``rpc.serialize_properties`` *after* ``create`` returned, so an output that does not serialize
fails a create whose row is already committed: every output here is plain JSON.

Ownership: the state's ``owner_stack`` is always the stack's own (the input), also after a
refresh, because ``delete`` checks ownership with it; the row's owner is ``row_owner_stack``, and
a refresh that finds it another stack's (an ``ops registry adopt``) makes ``diff`` report drift.

Health: ``create`` runs only once the smoke Job passed (its endpoint input waits for it), so it
registers ``healthy``. ``update`` writes ``healthy`` only when ``smoke_evidence`` (the smoke
Job's name, a hash of what is served and of the test) changed, i.e. a new smoke test passed in
this update; any other change keeps the health the reporter recorded. A change of only the
connection (a rotated password) or of the annotations writes nothing: the update just stores
the new connection in the outputs (delete and refresh need it) and refreshes them read-only.
An update that finds no row in the registry its connection names (the registry moved, or the row
was deleted by hand) registers it there like ``create``: ``healthy`` with the smoke evidence.

Rollouts: ``RegistryRollout`` (applied before the model's workload, which depends on it) marks
the row ``rolling_out`` towards a target whose smoke Job is named; the entry's next create or
update settles it (``rows.settle_rollout``): ``healthy`` with the target's fields only when its
``smoke_evidence`` is that Job, otherwise the last tested fields and the rollout state stay.
The entry takes the marker's ``rollout_id`` as an input, so a rollback (whose smoke evidence
equals the entry's state) still updates the entry and settles the row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit
from uuid import UUID

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown
from pulumi.runtime.rpc import unwrap_rpc_secret

from components.registry import migrate as migrations
from components.registry import rollouts, store
from components.registry.connection import connect
from components.registry.rows import EntryId, routing_held_for_health

__all__ = [
    "ANNOTATION_FIELDS",
    "CONNECTION",
    "ENTRY_OUTPUTS",
    "OWNER",
    "ROLLOUT",
    "ROLLOUT_ID",
    "ROW_OWNER",
    "SMOKE_EVIDENCE",
    "RegistryEntryProvider",
    "RegistryRolloutProvider",
    "RegistrySchemaProvider",
    "check_entry",
    "diff_entry",
    "diff_rollout",
    "diff_schema",
    "entry_id_of",
]

CONNECTION: Final = "connection"
OWNER: Final = "owner_stack"
"""Input: the stack ("<project>/<stack>") writing the entry; only the owner may change it."""
ROW_OWNER: Final = "row_owner_stack"
"""Output: the row's ``owner_stack`` as last written or refreshed (``OWNER`` stays the input)."""
SMOKE_EVIDENCE: Final = "smoke_evidence"
"""Input: the smoke Job that passed for what is deployed; a new value is new evidence."""
ROLLOUT: Final = "rollout"
"""Entry input: the model's ``RegistryRollout.rollout_id``; it changes whenever that resource
started a rollout, so the entry settles the row once the rollout's smoke test passed."""
# Inputs that describe a change rather than the desired state: they never cause an update.
ANNOTATION_FIELDS: Final[tuple[str, ...]] = ("change_kind", "note")
ENTRY_OUTPUTS: Final[tuple[str, ...]] = ("entry_id", "health_status", "registry_action")
# Inputs whose change is a change of the entry (the connection and annotations are not).
_ENTRY_FIELDS: Final[tuple[str, ...]] = (*store.SPEC_FIELDS, OWNER, SMOKE_EVIDENCE, ROLLOUT)
_INT_FIELDS: Final = {"max_model_len": 1, "gpus_per_replica": 0, "replicas": 0}
_BOOL_FIELDS: Final = ("routing_enabled",)


def _plain(props: Mapping[str, Any]) -> dict[str, Any]:
    return {k: unwrap_rpc_secret(v) for k, v in props.items()}


def _differs(old: Any, new: Any) -> bool:
    if isinstance(new, Unknown) or isinstance(old, Unknown):
        return True
    return bool(unwrap_rpc_secret(old) != unwrap_rpc_secret(new))


def entry_id_of(environment: str, model_name: str) -> str:
    """The Pulumi id of a registry entry: its natural key."""
    return f"{environment}/{model_name}"


# ------------------------------------------------------------------------------------ entry


def check_entry(news: Mapping[str, Any]) -> list[CheckFailure]:
    """Reject impossible inputs at preview time (unknown values are checked at apply time)."""
    failures: list[CheckFailure] = []

    def known(name: str) -> Any:
        value = unwrap_rpc_secret(news.get(name))
        return None if isinstance(value, Unknown) else value

    for name in (CONNECTION, OWNER, *store.SPEC_FIELDS):
        if name not in news or news[name] is None:
            failures.append(CheckFailure(name, "is required"))
    owner = known(OWNER)
    if owner is not None and (
        not isinstance(owner, str) or "/" not in owner or any(c.isspace() for c in owner)
    ):
        failures.append(CheckFailure(OWNER, f"must be <project>/<stack>, got {owner!r}"))
    evidence = known(SMOKE_EVIDENCE)
    if evidence is not None and (not isinstance(evidence, str) or not evidence):
        failures.append(CheckFailure(SMOKE_EVIDENCE, "must be a non-empty string or null"))
    for name in store.SPEC_FIELDS:
        value = known(name)
        if value is None:
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
    if isinstance(env, str) and env not in store.ENVIRONMENTS:
        failures.append(
            CheckFailure("environment", f"must be one of {', '.join(store.ENVIRONMENTS)}")
        )
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
    if kind is not None and kind not in store.CHANGE_KINDS:
        failures.append(
            CheckFailure("change_kind", f"must be one of {', '.join(store.CHANGE_KINDS)}")
        )
    return failures


def diff_entry(olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffResult:
    """Update when a registered field, the owner, the smoke evidence or the connection changed,
    or when a refresh found the row retired or owned by another stack; replace only when the
    natural key (environment, model_name) changed. ``change_kind`` and ``note`` only annotate
    the next change and never cause one. (A connection-only change must still be an update:
    the state's outputs are what delete and refresh connect with; the update writes nothing.)
    Routing the health reporter turned off is not a change (``rows.routing_held_for_health``)."""
    replaces = [k for k in store.KEY_FIELDS if _differs(olds.get(k), news.get(k))]
    changed = [k for k in (*_ENTRY_FIELDS, CONNECTION) if _differs(olds.get(k), news.get(k))]
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
    lost = row_owner is not None and _differs(row_owner, news.get(OWNER))
    return DiffResult(
        changes=bool(changed) or retired or lost,
        replaces=replaces,
        stables=[],
        delete_before_replace=False,
    )


def _spec(props: Mapping[str, Any]) -> store.EntrySpec:
    values: dict[str, Any] = {name: props[name] for name in store.SPEC_FIELDS}
    for name in _INT_FIELDS:
        values[name] = int(values[name])
    return store.EntrySpec(**values)


def json_id(value: EntryId) -> int | str:
    """The row id as plain JSON: an integer stays one, a legacy uuid/text id becomes a string."""
    if isinstance(value, bool) or not isinstance(value, (int, str, UUID)):
        raise TypeError(f"unexpected registry id type {type(value).__name__}")
    return value if isinstance(value, (int, str)) else str(value)


def _entry_outs(
    props: Mapping[str, Any], row: store.RegistryRow, action: str | None
) -> dict[str, Any]:
    """Outputs: the inputs as given, then the row's registered fields as stored.

    ``owner_stack`` is the stack's own (the input, kept in the state), never the row's: delete
    checks ownership with it, so a refresh after the row was adopted by another stack must not
    make this stack "own" it. The row's owner is ``ROW_OWNER``, which ``diff_entry`` compares
    with the input (a row another stack owns is drift)."""
    outs: dict[str, Any] = {
        k: props.get(k) for k in (CONNECTION, OWNER, SMOKE_EVIDENCE, ROLLOUT, *ANNOTATION_FIELDS)
    }
    data = asdict(row)
    outs.update({name: data[name] for name in store.SPEC_FIELDS})
    outs.update(
        entry_id=json_id(row.id),
        health_status=row.health_status,
        registry_action=action,
    )
    outs[ROW_OWNER] = row.owner_stack
    return outs


class RegistryEntryProvider(ResourceProvider):
    """One model's row in the registry: create registers, delete retires (the row stays)."""

    serialize_as_secret_always = False  # holds no state; the connection travels in inputs

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult(news, check_entry(news))

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        return diff_entry(_olds, _news)

    def _register(
        self, p: dict[str, Any], health_status: store.HealthStatus | None
    ) -> tuple[dict[str, Any], store.RegistryRow]:
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
        outs, row = self._register(_plain(props), "healthy")
        return CreateResult(entry_id_of(str(row.environment), str(row.model_name)), outs)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        olds, news = _plain(_olds), _plain(_news)
        with connect(news[CONNECTION], autocommit=True) as conn:
            row = store.get_entry(conn, str(news["environment"]), str(news["model_name"]))
        if row is None:
            # No row where the inputs point: the registry moved (the router reads the new one)
            # or the row was deleted by hand. Register it as ``create`` does (healthy on smoke
            # evidence; a marker found no row there, so no rollout is pending), else unknown.
            evidence = news.get(SMOKE_EVIDENCE)
            outs, _row = self._register(news, "healthy" if evidence is not None else None)
            return UpdateResult(outs)
        retired = olds.get("health_status") == "retired"
        if not retired and not any(_differs(olds.get(k), news.get(k)) for k in _ENTRY_FIELDS):
            return UpdateResult(self._refresh_outputs(olds, news, row))
        evidence = news.get(SMOKE_EVIDENCE)
        # olds without the key: state written before evidence existed (keep its health).
        new_evidence = (
            evidence is not None and SMOKE_EVIDENCE in olds and olds[SMOKE_EVIDENCE] != evidence
        )
        outs, _row = self._register(news, "healthy" if new_evidence else None)
        return UpdateResult(outs)

    def _refresh_outputs(
        self, olds: dict[str, Any], news: dict[str, Any], row: store.RegistryRow
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
        p = _plain(_props)
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
        p = _plain(props)
        environment, model_name = p.get("environment"), p.get("model_name")
        if not environment or not model_name:
            environment, _, model_name = id_.partition("/")
        with connect(p[CONNECTION], autocommit=True) as conn:
            row = store.get_entry(conn, environment, model_name)
        if row is None or row.retired:
            return ReadResult(None, {})
        return ReadResult(id_, _entry_outs(p, row, p.get("registry_action")))


# ---------------------------------------------------------------------------------- rollout

ROLLOUT_TARGET: Final[tuple[str, ...]] = ("target_image", "target_revision", "target_smoke_job")
ROLLOUT_ID: Final = "rollout_id"
"""RegistryRollout output: changes whenever it started a rollout (the entry's ``rollout``)."""
_ROLLOUT_INPUTS: Final[tuple[str, ...]] = (
    CONNECTION,
    "environment",
    "model_name",
    OWNER,
    "stack",
    *ROLLOUT_TARGET,
    "deadline_seconds",
    "note",
)


def diff_rollout(olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffResult:
    """Update when the target, the deadline, the owner or the connection changed; replace when
    the natural key changed. Only a changed target starts a rollout (see ``update``)."""
    replaces = [k for k in store.KEY_FIELDS if _differs(olds.get(k), news.get(k))]
    changed = [k for k in _ROLLOUT_INPUTS if k != "note" and _differs(olds.get(k), news.get(k))]
    return DiffResult(changes=bool(changed), replaces=replaces, stables=[])


class RegistryRolloutProvider(ResourceProvider):
    """Marks a model's row ``rolling_out`` before its workload changes (``rollouts``).

    The workload depends on this resource, so the engine applies it first; the entry settles the
    row after the smoke test. Delete does nothing (the entry's delete retires the row).
    """

    serialize_as_secret_always = False

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        return diff_rollout(_olds, _news)

    def _begin(self, p: dict[str, Any], previous_id: str | None) -> dict[str, Any]:
        target = rollouts.RolloutTarget(
            image=str(p["target_image"]),
            revision=str(p["target_revision"]),
            smoke_job=str(p["target_smoke_job"]),
            deadline_seconds=int(p["deadline_seconds"]),
        )
        with connect(p[CONNECTION], autocommit=True) as conn:
            outcome = rollouts.begin_rollout(
                conn,
                str(p["environment"]),
                str(p["model_name"]),
                target,
                owner=p[OWNER],
                stack=p.get("stack"),
                note=p.get("note"),
            )
        outs = {k: p.get(k) for k in _ROLLOUT_INPUTS}
        row = outcome.entry if outcome is not None else None
        if outcome is not None and outcome.action == "rollout_started" and row is not None:
            started = row.rollout_started_at
            outs[ROLLOUT_ID] = f"{target.smoke_job}@{started.isoformat() if started else ''}"
        else:
            outs[ROLLOUT_ID] = previous_id or target.smoke_job
        outs["health_status"] = row.health_status if row is not None else None
        return outs

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = _plain(props)
        outs = self._begin(p, None)
        return CreateResult(entry_id_of(str(p["environment"]), str(p["model_name"])), outs)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        olds, news = _plain(_olds), _plain(_news)
        if not any(_differs(olds.get(k), news.get(k)) for k in ROLLOUT_TARGET):
            # Connection, owner or deadline only: nothing new will serve; write nothing.
            outs = {k: news.get(k) for k in _ROLLOUT_INPUTS}
            outs.update({k: olds.get(k) for k in (ROLLOUT_ID, "health_status")})
            return UpdateResult(outs)
        return UpdateResult(self._begin(news, olds.get(ROLLOUT_ID)))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """The row is the entry's: retiring it is ``RegistryEntryProvider.delete``."""

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, dict(props))


# ----------------------------------------------------------------------------------- schema


def diff_schema(olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffResult:
    """Update when a migration file is new or changed (compared with what the database records)
    or the connection changed; replace when the database changed."""
    old_files = unwrap_rpc_secret(olds.get("migrations")) or {}
    new_files = unwrap_rpc_secret(news.get("migrations"))
    if isinstance(new_files, Unknown) or not isinstance(new_files, Mapping):
        files_changed = True
    else:
        files_changed = any(old_files.get(k) != v for k, v in new_files.items())
    replaces = ["database"] if _differs(olds.get("database"), news.get("database")) else []
    changed = files_changed or _differs(olds.get(CONNECTION), news.get(CONNECTION))
    return DiffResult(changes=changed or bool(replaces), replaces=replaces, stables=[])


def _schema_outs(
    props: Mapping[str, Any], applied: list[migrations.AppliedMigration]
) -> dict[str, Any]:
    return {
        CONNECTION: props.get(CONNECTION),
        "database": props.get("database"),
        "migrations": {a.key: a.checksum for a in applied},
        "applied_versions": [a.version for a in applied],
        "schema_version": max((a.version for a in applied), default=0),
    }


class RegistrySchemaProvider(ResourceProvider):
    """The registry schema: create/update apply pending migrations; delete keeps everything."""

    serialize_as_secret_always = False

    def __init__(self, directory: Path | None = None) -> None:
        super().__init__()
        # Only a path (tests point it at a copy); the default is the package's migrations.
        self.directory = str(directory) if directory is not None else None

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        p = _plain(props)
        files = migrations.load_migrations(
            Path(self.directory) if self.directory else migrations.MIGRATIONS_DIR
        )
        local = {m.key: m.checksum for m in files}
        declared = dict(p.get("migrations") or {})
        if local != declared:
            raise migrations.MigrationError(
                "the provider's migration files differ from the program's "
                f"({sorted(set(local) ^ set(declared))}); run both from one checkout"
            )
        migrations.migrate(p[CONNECTION], files)
        with connect(p[CONNECTION], autocommit=True) as conn:
            applied = migrations.applied_migrations(conn)
        return _schema_outs(p, applied)

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        return diff_schema(_olds, _news)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._apply(props)
        return CreateResult(f"{outs['database']}/{migrations.MIGRATIONS_TABLE}", outs)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._apply(_news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Removing the resource from the program never drops the registry or its history."""

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        p = _plain(props)
        with connect(p[CONNECTION], autocommit=True) as conn:
            applied = migrations.applied_migrations(conn)
        return ReadResult(id_, _schema_outs(p, applied))
