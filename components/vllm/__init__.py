"""The vLLM serving component and the pure builders of its Kubernetes objects."""

from components.vllm.component import TYPE_TOKEN, VllmDeployment, VllmDeploymentArgs
from components.vllm.render import model_objects, object_key

__all__ = ["TYPE_TOKEN", "VllmDeployment", "VllmDeploymentArgs", "model_objects", "object_key"]
