"""The model registry's database code: the PostgreSQL tables the API router reads, and how they
change (migrations, store, rollout states, the dynamic providers' logic, connections).

No Pulumi resources live here (``components/resources/registry.py`` and ``registry_roles.py``);
submodules are imported explicitly so the ops commands and the provider process load only what
they use.
"""
