"""The model registry's database code: PostgreSQL tables the API router reads, and how they change.

- ``migrations/NNNN_*.sql`` + ``migrate.py``: versioned schema, applied under an advisory lock.
- ``store.py``: psycopg functions (register, update, retire, reactivate, read, list, events).
- ``rollouts.py``: rollout states (``rolling_out``, ``rollout_failed``): start, fail, expire.
- ``providers.py``: the logic of the ``RegistrySchema``, ``RegistryRollout`` and
  ``RegistryEntry`` dynamic providers (pickled by reference into the state: this module path
  must not move).
- ``connection.py``: connecting, building DSNs, masking passwords in every message.

No Pulumi resources live here: ``components/resources/registry.py`` (the dynamic resources) and
``components/resources/registry_roles.py`` (writer and reader roles via pulumi-postgresql) are
wired by ``components/program.py``: schema, then roles (``wire_registry``), then per model a
rollout marker its workload depends on (``wire_models``), then one entry per model whose
endpoint resolves only once that model's smoke test passed (``wire_entries``).

Submodules are imported explicitly (this package imports nothing) so the ops commands and the
dynamic provider process load only what they use.
"""
