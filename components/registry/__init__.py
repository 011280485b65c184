"""The model registry: PostgreSQL tables the API router reads, and how this program fills them.

- ``migrations/NNNN_*.sql`` + ``migrate.py``: versioned schema, applied under an advisory lock.
- ``store.py``: psycopg functions (register, update, retire, reactivate, read, list, events).
- ``roles.py``: ``RegistryRoles`` component (writer and reader roles via pulumi-postgresql).
- ``providers.py`` / ``resources.py``: ``RegistrySchema`` and ``RegistryEntry`` dynamic resources.
- ``connection.py``: connecting, building DSNs, masking passwords in every message.

Wiring in ``__main__.py``::

    reg = cfg.registry
    owner_dsn = registry_dsn(reg, reg.user, config.require_secret("registryPassword"))
    schema = RegistrySchema("registry-schema",
                            RegistrySchemaArgs(connection=owner_dsn, database=reg.database))
    if reg.manage_roles:
        roles = RegistryRoles("registry-roles", RegistryRolesArgs(
            config=reg, writer_role=cfg.writer_role, reader_role=cfg.reader_role,
            owner_password=config.require_secret("registryPassword"),
            writer_password=config.require_secret("registryWriterPassword"),
            reader_password=config.require_secret("registryReaderPassword"),
            database=schema.database))
        entry_dsn = roles.writer_dsn
    else:
        entry_dsn = owner_dsn  # (needs schema applied first: depends_on=[schema])
    for model in cfg.models:
        RegistryEntry(f"{model.name}-registry",
                      entry_args(cfg, model, connection=entry_dsn, endpoint_url=dep.endpoint_url,
                                 deployment_name=dep.name, stack=pulumi.get_stack()),
                      ResourceOptions(depends_on=[dep]))  # dep: ready + smoke-tested

Submodules are imported explicitly (this package imports nothing) so the ops commands and the
dynamic provider process load only what they use.
"""
