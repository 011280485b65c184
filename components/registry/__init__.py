"""The model registry's database code: PostgreSQL tables the API router reads, and how they change.

- ``migrations/NNNN_*.sql`` + ``migrate.py``: versioned schema, applied under an advisory lock.
- ``store.py``: psycopg functions (register, update, retire, reactivate, read, list, events).
- ``providers.py``: the logic of the ``RegistrySchema`` and ``RegistryEntry`` dynamic providers
  (pickled by reference into the state: this module path must not move).
- ``connection.py``: connecting, building DSNs, masking passwords in every message.

No Pulumi resources live here: ``components/resources/registry.py`` (the dynamic resources) and
``components/resources/registry_roles.py`` (writer and reader roles via pulumi-postgresql) are
wired by ``components/program.py`` (``wire_registry``): schema, then roles, then one entry per
model whose endpoint resolves only once that model's smoke test passed.

Submodules are imported explicitly (this package imports nothing) so the ops commands and the
dynamic provider process load only what they use.
"""
