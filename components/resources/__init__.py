"""Pulumi ComponentResources: each registers exactly the dicts the pure builders produced.

Import from the submodules; this package imports nothing, so the offline commands never load
the Pulumi SDK through it.
"""
