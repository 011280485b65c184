"""components/manifests/vllm/extras.py and config-driven details of the model's objects."""

from __future__ import annotations

from components.manifests.vllm.extras import ingress, scaled_object
from components.manifests.vllm.network import server_network_policy
from components.manifests.vllm.render import model_objects
from components.manifests.vllm.smoke import smoke_min_replicas, smoke_targets
from tests.unit.manifests.vllm.support import kinds, stack

# ------------------------------------------------------------------------------------- extras


def test_ingress_exposes_only_v1_with_tls_from_cert_manager() -> None:
    cfg, m, _ = stack(ingress={"host": "llama.example.com", "clusterIssuer": "le-prod"})
    ing = ingress(cfg, m)
    assert ing is not None
    assert ing["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "le-prod"}
    assert ing["spec"]["tls"] == [{"hosts": ["llama.example.com"], "secretName": f"{m.name}-tls"}]
    (path,) = ing["spec"]["rules"][0]["http"]["paths"]
    assert path["path"] == "/v1"
    assert ingress(*stack()[:2]) is None


def test_scaled_object_targets_the_workload_on_waiting_requests() -> None:
    cfg, m, _ = stack(
        model=1,
        autoscaling={"minReplicas": 2, "maxReplicas": 3, "waitingRequestsTarget": 4},
        max_nodes=8,
    )
    so = scaled_object(cfg, m)
    assert so is not None
    assert so["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "name": m.name,
    }
    assert (so["spec"]["minReplicaCount"], so["spec"]["maxReplicaCount"]) == (2, 3)
    (trigger,) = so["spec"]["triggers"]
    assert "vllm:num_requests_waiting" in trigger["metadata"]["query"]
    assert trigger["metadata"]["threshold"] == "4"


def test_a_disabled_autoscaling_section_is_as_if_there_were_none() -> None:
    """``enabled: false`` keeps the bounds in the file but hands the count back to ``replicas``:
    no ScaledObject, and the smoke test expects (and names) exactly ``replicas`` pods."""
    off = {"minReplicas": 1, "maxReplicas": 3, "enabled": False}
    cfg, m, plan = stack(autoscaling=off, max_nodes=9)
    bare_cfg, bare, bare_plan = stack()
    assert scaled_object(cfg, m) is None
    assert kinds(model_objects(cfg, m, plan)) == kinds(model_objects(bare_cfg, bare, bare_plan))
    assert smoke_min_replicas(m) == m.replicas == 2
    assert smoke_targets(cfg, m) == smoke_targets(bare_cfg, bare) != []
    on_cfg, on, _ = stack(autoscaling={**off, "enabled": True}, max_nodes=9)
    assert (smoke_min_replicas(on), smoke_targets(on_cfg, on)) == (1, [])


def test_observability_objects_follow_the_switches() -> None:
    cfg, m, plan = stack("examples/Pulumi.local.yaml")
    ks = kinds(model_objects(cfg, m, plan))
    assert "ServiceMonitor" not in ks and "PrometheusRule" not in ks
    assert "ConfigMap" in ks
    pcfg, pm, pplan = stack()
    pks = kinds(model_objects(pcfg, pm, pplan))
    assert {"ServiceMonitor", "PrometheusRule", "ConfigMap"} <= set(pks)
    assert pks[-1] == "Job"


def test_no_custom_resources_until_the_operators_are_said_to_be_installed() -> None:
    # Created (production, development) or attached (staging, on development's new cluster).
    for file in ("Pulumi.production.yaml", "Pulumi.development.yaml", "Pulumi.staging.yaml"):
        cfg, m, plan = stack(file, operators=False)
        ks = kinds(model_objects(cfg, m, plan))
        assert "ServiceMonitor" not in ks and "PrometheusRule" not in ks, file
        assert "ConfigMap" in ks  # the dashboard needs no CRD
    cfg, m, plan = stack("Pulumi.staging.yaml", operators=True)
    assert {"ServiceMonitor", "PrometheusRule"} <= set(kinds(model_objects(cfg, m, plan)))


# ------------------------------------------------------------------- config-driven details


def test_workload_carries_the_facts_the_policy_pack_reads() -> None:
    from components.contract import ALLOW_DOWNTIME_ANNOTATION, ROUTING_ANNOTATION

    cfg, m, plan = stack(model=1, replicas=1, allowDowntime=True, routingEnabled=False)
    workload = next(o for o in model_objects(cfg, m, plan) if o["kind"] == "StatefulSet")
    assert workload["metadata"]["annotations"] == {
        ALLOW_DOWNTIME_ANNOTATION: "true",
        ROUTING_ANNOTATION: "false",
    }


def test_operator_objects_carry_the_configured_rule_labels() -> None:
    cfg, m, plan = stack()
    cfg = cfg.model_copy(
        update={
            "observability": cfg.observability.model_copy(
                update={"rule_labels": {"release": "kube-prometheus-stack"}}
            )
        }
    )
    objs = {o["kind"]: o for o in model_objects(cfg, m, plan)}
    for kind in ("ServiceMonitor", "PrometheusRule"):
        assert objs[kind]["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert "release" not in objs["Service"]["metadata"]["labels"]


def test_keda_queries_the_configured_prometheus() -> None:
    cfg, m, _ = stack(model=1, autoscaling={"minReplicas": 2, "maxReplicas": 3}, max_nodes=8)
    default = scaled_object(cfg, m)
    assert default is not None
    assert (
        "prometheus-operated.monitoring.svc"
        in (default["spec"]["triggers"][0]["metadata"]["serverAddress"])
    )
    cfg = cfg.model_copy(
        update={
            "observability": cfg.observability.model_copy(
                update={"prometheus_url": "http://prom.example:9090"}
            )
        }
    )
    configured = scaled_object(cfg, m)
    assert configured is not None
    assert configured["spec"]["triggers"][0]["metadata"]["serverAddress"] == (
        "http://prom.example:9090"
    )


def test_ingress_controller_namespace_comes_from_config() -> None:

    cfg, m, _ = stack(
        model=1, ingress={"host": "llm.example.com", "controllerNamespace": "traefik"}
    )
    peers = server_network_policy(cfg, m)["spec"]["ingress"][0]["from"]
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}}
    } in peers
