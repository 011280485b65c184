"""What the machine running `pulumi up` must reach, from the stack's config (shown by `ops plan`).

Every provider runs on the machine that runs the CLI, not in the cluster: pulumi-linode calls
the Linode API, pulumi-kubernetes calls the cluster's API server (through the LKE control-plane
ACL when one is set), and the registry's dynamic providers and pulumi-postgresql open
PostgreSQL connections to the registry database. A GitHub-hosted runner has none of a private
network's addresses and egresses from GitHub's ranges, so a stack whose registry is on a
private network, or whose ACL admits only the team's ranges, deploys from a self-hosted runner
inside that network (the workflows' ``DEPLOY_RUNNER_<ENV>`` variables; docs/operations.md).
"""

from __future__ import annotations

import ipaddress

from components.config import StackConfig

# pulumi-linode's default API (the provider's `linode:url` config overrides it).
LINODE_API = "https://api.linode.com:443"
_PRIVATE_SUFFIXES = (".internal", ".local", ".lan", ".corp", ".home.arpa", ".svc")


def registry_is_private(cfg: StackConfig) -> bool:
    """A private address, or a name that by its suffix or label resolves only inside a network."""
    host = cfg.registry.host.rstrip(".").lower()
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        labels = host.split(".")
        return "internal" in labels or host.endswith(_PRIVATE_SUFFIXES) or "." not in host
    return addr.is_private or addr.is_loopback or addr.is_link_local


def registry_is_local(cfg: StackConfig) -> bool:
    """The registry on this very machine (a port-forward to a laptop cluster's database): the
    stack deploys from a workstation, never from CI."""
    host = cfg.registry.host.rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def hosted_runner_can_deploy(cfg: StackConfig) -> bool:
    """Whether a GitHub-hosted runner could reach everything: no ACL and a public registry."""
    return cfg.cluster.control_plane_acl is None and not registry_is_private(cfg)


def _cluster_line(cfg: StackConfig) -> str:
    c = cfg.cluster
    if c.mode == "create":
        where = "the new LKE cluster's API server (its api_endpoints, known once it exists)"
    elif c.mode == "stack":
        where = f"the API server of the cluster stack {c.stack_reference} uses"
    else:
        where = f"the API server in kubeconfig {c.kubeconfig_path or '$KUBECONFIG'}"
    acl = c.control_plane_acl
    if acl:
        return (
            f"  - Kubernetes: {where}, which admits only {', '.join(acl)} "
            "(cluster.controlPlaneAcl): this machine's egress address must be in that range"
        )
    if c.mode == "create":
        return f"  - Kubernetes: {where} (no control-plane ACL: open to any address)"
    return f"  - Kubernetes: {where} (through whatever ACL that cluster has)"


def reach_lines(cfg: StackConfig) -> list[str]:
    reg = cfg.registry
    lines = ["The machine that runs `pulumi up` (a CI runner or a laptop) must reach:"]
    if cfg.cluster.mode == "create":
        lines.append(f"  - the Linode API {LINODE_API} (LINODE_TOKEN): cluster and GPU pool")
    lines.append(_cluster_line(cfg))
    where = ""
    if registry_is_local(cfg):
        where = "; on this machine itself (e.g. kubectl port-forward to the cluster's database)"
    elif registry_is_private(cfg):
        where = "; a private name or address, reachable only inside its network"
    lines.append(
        f"  - the registry database {reg.host}:{reg.port} (sslmode {reg.sslmode}): migrations, "
        "roles and entries are written from this machine, not from the cluster" + where
    )
    lines.append("  - the Pulumi state backend (PULUMI_BACKEND_URL, or Pulumi Cloud)")
    if registry_is_local(cfg):
        return lines  # deployed from a workstation: no CI runner to choose
    if hosted_runner_can_deploy(cfg):
        lines.append("  A GitHub-hosted runner can reach all of these.")
    else:
        lines.append(
            "  A GitHub-hosted runner cannot: deploy from a runner inside the network "
            f"(repository variable DEPLOY_RUNNER_{cfg.environment.upper()}, docs/operations.md)."
        )
    return lines
