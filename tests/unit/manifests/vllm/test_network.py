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


def test_network_policy_admits_router_monitoring_smoke_and_health_reporter_on_8000() -> None:
    cfg, m, _ = stack()
    np = server_network_policy(cfg, m)
    (rule,) = np["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8000}]
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "api-router"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "api-router"}},
        },
        {
            # only the Prometheus pods (by label), not every pod of the monitoring namespace
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
        },
        {
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/name": m.name,
                    "app.kubernetes.io/component": "smoke-test",
                }
            }
        },
        {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "health-reporter"}}},
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
    peer = server_network_policy(cfg, m)["spec"]["ingress"][0]["from"][2]["podSelector"]
    assert peer["matchLabels"].items() <= job_labels.items()


def test_service_and_selectors_match_the_pods() -> None:
    cfg, m, plan = stack()
    objs = {(o["kind"], o["metadata"]["name"]): o for o in model_objects(cfg, m, plan)}
    svc = objs[("Service", m.name)]
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"] == [
        {"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}
    ]
    assert svc["metadata"]["namespace"] == "vllm-production"
    pod_labels = objs[("StatefulSet", m.name)]["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    assert objs[("Service", f"{m.name}-pods")]["spec"]["clusterIP"] == "None"
