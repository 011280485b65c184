"""Stock images the platform runs besides vLLM, pinned by version tag and digest.

There is no image of ours to build. Digests are the multi-arch index digests, so every node
architecture resolves the same content; bump tag and digest together.
"""

from __future__ import annotations

from typing import Final

# The curl project's own image: the smoke tests and the health reporter's probes.
CURL_IMAGE: Final = (
    "curlimages/curl:8.16.0@sha256:463eaf6072688fe96ac64fa623fe73e1dbe25d8ad6c34404a669ad3ce1f104b6"
)
# Docker's official PostgreSQL image (alpine): psql for the health reporter.
PSQL_IMAGE: Final = (
    "postgres:17.11-alpine3.24"
    "@sha256:b0f9560a2de083e2cc7382e75f808c7381a32852a7ec49117deedb300e552b24"
)
# NVIDIA's device plugin (advertises nvidia.com/gpu on LKE's GPU nodes).
DEVICE_PLUGIN_IMAGE: Final = (
    "nvcr.io/nvidia/k8s-device-plugin:v0.18.2"
    "@sha256:b5788e29e7ae5272de8de863ebe386d6611e608421a6ecc5b4e7d5952aba637f"
)
# Kubernetes' pause image: the image pre-puller's idle container (components/manifests/prepull.py).
# The same tag and index digest as e.g. cilium/cilium images/runtime/Dockerfile pins.
PAUSE_IMAGE: Final = (
    "registry.k8s.io/pause:3.10"
    "@sha256:ee6521f290b2168b6e0935a181d4cff9be1ac3f505666ef0e3c98fae8199917a"
)
