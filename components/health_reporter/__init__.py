"""The in-cluster health reporter: keeps the registry's health_status true between deploys.

Import from the submodules (manifests.py: pure builders; component.py: the Pulumi component);
this package imports nothing, so the offline commands do not load the Pulumi SDK.
"""
