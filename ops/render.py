"""`python -m ops render --stack NAME --out DIR`: every Kubernetes object the stack would apply.

One object per YAML file, named ``NNN-<kind>-<name>.yaml`` in apply order, built by the same
builders the components register. Secret data is ``REDACTED``. Earlier ``*.yaml`` files in DIR
are removed first, so an object the stack no longer has does not linger. This is what a
reviewer reads in a pull request, and what GitOps users can apply.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from components.manifests.device_plugin import GPU_OPERATOR_CHART, GPU_OPERATOR_VERSION
from ops.stack import load_offline

__all__ = ["main"]


class _NoAliasDumper(yaml.SafeDumper):
    """Spell out repeated values (e.g. one probe target shared by three probes) instead of
    writing YAML anchors and aliases, which reviewers and some GitOps tools stumble over."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def main(args: argparse.Namespace) -> int:
    stack = load_offline(args)
    objects = stack.objects
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.yaml"):
        old.unlink()
    for i, obj in enumerate(objects, start=1):
        name = f"{i:03d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
        text = yaml.dump(obj, Dumper=_NoAliasDumper, sort_keys=False)
        (out / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(objects)} objects to {out}")
    if stack.loaded.config.cluster.gpu_enablement_resolved == "gpu-operator":
        print(
            f"note: the NVIDIA GPU Operator (Helm chart {GPU_OPERATOR_CHART} "
            f"{GPU_OPERATOR_VERSION}) is a Helm release and is not rendered here"
        )
    return 0
