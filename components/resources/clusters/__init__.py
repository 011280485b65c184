"""Where a stack's cluster comes from: one module per source, behind one interface.

A source's ``attach(name, parent)`` registers what that source needs (an LKE cluster and GPU
pool, a StackReference, or nothing) as children of ``parent`` and returns an
``AttachedCluster``: what the Kubernetes provider is built from. A new source is a module here
with a frozen dataclass that has ``attach``, and a case in ``GpuClusterArgs``' builder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pulumi

__all__ = ["AttachedCluster", "ClusterSource"]


@dataclass(frozen=True)
class AttachedCluster:
    cluster_id: pulumi.Output[str]
    """The provider's ``cluster_identifier``: stable across kubeconfig rotations."""
    identified: bool = True
    """False: the provider gets no identifier (a stack-mode stack deployed with a literal one,
    moving to the referenced stack's: docs/operations.md, "A replaced shared cluster")."""
    kubeconfig: pulumi.Output[str] | None = None
    """A kubeconfig this stack obtained (secret), exported in create mode."""
    kubeconfig_path: str | None = None
    """A kubeconfig file on the machine running Pulumi (kubeconfig mode)."""
    context: str | None = None
    gpu_ready: tuple[pulumi.Resource, ...] = ()
    """What must exist before GPU workloads are scheduled (the GPU pool, when created)."""
    resources: tuple[pulumi.Resource, ...] = ()
    """Every resource the source registered."""


class ClusterSource(Protocol):
    def attach(self, name: str, parent: pulumi.Resource) -> AttachedCluster: ...
