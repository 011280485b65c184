"""The vLLM serving component (component.py) and the pure builders of its Kubernetes objects.

Import from the submodules: this package imports nothing, so the offline commands that only
need the builders (``ops plan``, ``ops render``) do not load the Pulumi SDK.
"""
