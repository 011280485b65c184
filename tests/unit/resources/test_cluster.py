"""components/resources/cluster.py: kubeconfig decoding (the component itself: tests/program)."""

from __future__ import annotations

import base64

from components.resources.clusters.lke import decode_kubeconfig

YAML = "apiVersion: v1\nkind: Config\nclusters: []\n"


def test_lke_base64_kubeconfig_is_decoded() -> None:
    assert decode_kubeconfig(base64.b64encode(YAML.encode()).decode()) == YAML


def test_yaml_kubeconfig_passes_through_unchanged() -> None:
    assert decode_kubeconfig(YAML) == YAML


def test_text_that_is_not_base64_is_left_alone() -> None:
    assert decode_kubeconfig("not base64!") == "not base64!"
