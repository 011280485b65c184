"""components/manifests/vllm/network.py: who may reach the server and the smoke test."""

from __future__ import annotations

from components.manifests.vllm.network import server_network_policy, smoke_network_policy
from components.manifests.vllm.render import model_objects
from components.manifests.vllm.smoke import smoke_job
from components.manifests.vllm.workload import (
    workload,
)
from tests.unit.manifests.vllm.support import stack

# ------------------------------------------------------------------------------------ network


ROUTER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "api-router"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "api-router"}},
}
# only the Prometheus pods (by label), not every pod of the monitoring namespace
PROMETHEUS = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
}
REPORTER = {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "health-reporter"}}}


def _admitted(np: dict[str, object]) -> list[tuple[list[int], list[object]]]:
    rules = np["spec"]["ingress"]  # type: ignore[index]
    return [([p["port"] for p in r["ports"]], r["from"]) for r in rules]


def test_each_caller_is_admitted_to_its_allowlist_port_only() -> None:
    """The router and the smoke test reach the API port (/v1), Prometheus the metrics port,
    the health reporter the health port; nobody reaches vLLM's own port (the loopback's)."""
    cfg, m, _ = stack()
    np = server_network_policy(cfg, m)
    smoke = {
        "podSelector": {
            "matchLabels": {
                "app.kubernetes.io/name": m.name,
                "app.kubernetes.io/component": "smoke-test",
            }
        }
    }
    assert _admitted(np) == [
        ([8000], [ROUTER, smoke]),
        ([8002], [PROMETHEUS]),
        ([8003], [REPORTER]),
    ]
    assert np["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == m.name


def test_smoke_policy_lets_the_smoke_pods_reach_the_server_pods() -> None:
    cfg, m, plan = stack()
    np = smoke_network_policy(cfg, m)
    job = smoke_job(cfg, m, workload(cfg, m, plan))
    job_labels = job["spec"]["template"]["metadata"]["labels"]
    assert np["spec"]["podSelector"]["matchLabels"].items() <= job_labels.items()
    server_labels = workload(cfg, m, plan)["spec"]["template"]["metadata"]["labels"]
    to = np["spec"]["egress"][1]["to"][0]["podSelector"]["matchLabels"]
    assert to.items() <= server_labels.items()
    # and the server policy admits them
    peer = server_network_policy(cfg, m)["spec"]["ingress"][0]["from"][1]["podSelector"]
    assert peer["matchLabels"].items() <= job_labels.items()


def test_service_and_selectors_match_the_pods() -> None:
    cfg, m, plan = stack()
    objs = {(o["kind"], o["metadata"]["name"]): o for o in model_objects(cfg, m, plan)}
    svc = objs[("Service", m.name)]
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"] == [
        {"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"},
        {"name": "metrics", "port": 8002, "targetPort": "metrics", "protocol": "TCP"},
        {"name": "health", "port": 8003, "targetPort": "health", "protocol": "TCP"},
    ]
    # every target is a port of the allowlist sidecar; vLLM's container has none
    pod = objs[("StatefulSet", m.name)]["spec"]["template"]["spec"]
    [sidecar] = [c for c in pod["initContainers"] if c.get("restartPolicy") == "Always"]
    named = {p["name"]: p["containerPort"] for p in sidecar["ports"]}
    assert {p["targetPort"]: p["port"] for p in svc["spec"]["ports"]} == named
    assert all("ports" not in c for c in pod["containers"])
    assert svc["metadata"]["namespace"] == "vllm-production"
    pod_labels = objs[("StatefulSet", m.name)]["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    assert objs[("Service", f"{m.name}-pods")]["spec"]["clusterIP"] == "None"
