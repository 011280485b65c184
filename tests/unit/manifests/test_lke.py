"""components/manifests/lke.py: LKE cluster and GPU pool arguments, and the replacement cautions."""

from __future__ import annotations

import copy

import pulumi_linode as linode

from components.config import load_stack_config
from components.config.source import read_stack_file
from components.manifests.lke import (
    EXTERNAL_POOL_TAG,
    cluster_args,
    cluster_label,
    gpu_pool_args,
    replacement_warnings,
)
from tests.support.stackfiles import ROOT
from tests.support.stackfiles import stack_config as stack


def test_cluster_args_follow_the_production_config() -> None:
    args = cluster_args(stack("production"))
    assert args["label"] == "vllm-production"
    assert args["region"] == "us-ord"
    assert args["k8s_version"] == "1.33"
    assert args["tags"] == ["vllm-platform", "production"]
    assert args["control_plane"] == {
        "high_availability": True,
        "acl": {"enabled": True, "addresses": [{"ipv4s": ["203.0.113.0/24"]}]},
    }
    assert args["pools"] == [
        {"type": "g6-standard-4", "count": 3, "tags": ["vllm-platform", "production"]}
    ]


def test_acl_splits_ipv4_and_ipv6_cidrs() -> None:
    cfg = stack("production", controlPlaneAcl=["203.0.113.0/24", "2001:db8::/32"])
    (address,) = cluster_args(cfg)["control_plane"]["acl"]["addresses"]
    assert address == {"ipv4s": ["203.0.113.0/24"], "ipv6s": ["2001:db8::/32"]}


def test_no_acl_and_no_ha_by_default() -> None:
    assert cluster_args(stack("development"))["control_plane"] == {"high_availability": False}


def test_label_defaults_to_the_environment() -> None:
    raw, secrets = read_stack_file(ROOT / "Pulumi.production.yaml")
    raw = copy.deepcopy(raw)
    del raw["cluster"]["label"]
    assert cluster_label(load_stack_config(raw, secrets).config) == "vllm-production"


def test_gpu_pool_carries_the_tag_the_cluster_ignores_and_the_system_pool_does_not() -> None:
    cfg = stack("development")
    cluster, pool = cluster_args(cfg), gpu_pool_args(cfg)
    assert cluster["external_pool_tags"] == [EXTERNAL_POOL_TAG]
    assert set(cluster["external_pool_tags"]) <= set(pool["tags"])
    assert all(EXTERNAL_POOL_TAG not in p["tags"] for p in cluster["pools"])


def test_gpu_pool_args_follow_the_config() -> None:
    pool = gpu_pool_args(stack("production"))
    assert pool == {
        "type": "g3-gpu-rtxpro6000-blackwell-2",
        "node_count": 4,
        "autoscaler": {"min": 4, "max": 7},
        "labels": {"vllm-platform.io/gpu": "true"},
        "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}],
        "tags": ["vllm-platform", "production", EXTERNAL_POOL_TAG],
    }


def test_untainted_fixed_size_pool_has_no_taint_and_no_autoscaler() -> None:
    pool = gpu_pool_args(
        stack(
            "production",
            gpuPool={"type": "g3-gpu-rtxpro6000-blackwell-2", "count": 5, "taint": False},
        )
    )
    assert pool["taints"] == []
    assert "autoscaler" not in pool


def test_args_are_accepted_by_the_provider_input_types() -> None:
    cfg = stack("production")
    linode.LkeClusterArgs(**cluster_args(cfg))
    linode.LkeNodePoolArgs(cluster_id=1, **gpu_pool_args(cfg))


def test_create_mode_warns_about_region_pool_plans_version_and_ha() -> None:
    warnings = replacement_warnings(stack("production"))
    text = "\n".join(warnings)
    assert any(
        w.startswith("cluster.region=us-ord: ") and "replaces the LKE cluster" in w
        for w in warnings
    )
    assert "cluster.gpuPool.type=g3-gpu-rtxpro6000-blackwell-2: a new plan replaces the GPU" in text
    assert "cluster.systemPool.type=g6-standard-4" in text
    assert "downgrades are rejected" in text
    assert "cluster.highAvailability=true: cannot be turned off" in text
    assert "(refused while protected)" in text
    assert any(w.startswith("namespace=vllm-production: ") for w in warnings)


def test_label_and_tags_are_not_called_replacements() -> None:
    text = "\n".join(replacement_warnings(stack("production")))
    assert "cluster.label" not in text and "cluster.tags" not in text


def test_unprotected_create_stack_has_no_ha_caution_and_no_protection_note() -> None:
    text = "\n".join(replacement_warnings(stack("development")))
    assert "highAvailability" not in text
    assert "refused while protected" not in text


def test_attached_stack_warns_only_about_the_cluster_identifier_and_namespace() -> None:
    warnings = replacement_warnings(stack("staging"))
    assert len(warnings) == 2
    assert warnings[0].startswith(
        "cluster identity: the clusterId output of organization/vllm-platform/development; "
    )
    assert "replaces the Kubernetes provider" in warnings[0]
    assert warnings[1].startswith("namespace=vllm-staging: ")


def test_a_literal_identity_in_stack_mode_says_how_to_move_off_it() -> None:
    [line, _] = replacement_warnings(stack("staging", clusterId="lke-vllm-nonprod"))
    assert line.startswith("cluster.clusterId=lke-vllm-nonprod: a literal identity in stack mode")
    assert "Remove the key after the next `pulumi up`" in line
