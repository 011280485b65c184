"""`python -m ops render --stack NAME --out DIR`: every Kubernetes object the stack would apply.

One object per YAML file, named ``NNN-<kind>-<name>.yaml`` in apply order, built by the same
builders the components register. The files of the previous render in DIR (``RENDERED.txt``
lists them) are replaced, so an object the stack no longer has does not linger; no other file
is ever removed (``ops/render_dir.py``). This is what a reviewer reads in a pull request, and
what GitOps users can apply.

Secrets are never written as YAML: their values are not known offline, and a placeholder that a
GitOps user applies with the directory would overwrite the real keys. ``SECRETS.md`` lists each
Secret (name, keys, where its value comes from) instead; no tool applies a ``.md`` file.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import yaml

from components.manifests.device_plugin import GPU_OPERATOR_CHART, GPU_OPERATOR_VERSION
from components.manifests.toolkit import WEIGHTS_SECRET
from ops.render_dir import replace_render
from ops.stack import load_offline

SECRETS_FILE = "SECRETS.md"


class _NoAliasDumper(yaml.SafeDumper):
    """Spell out repeated values (e.g. one probe target shared by three probes) instead of
    writing YAML anchors and aliases, which reviewers and some GitOps tools stumble over."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def secrets_note(secrets: list[dict[str, Any]]) -> str:
    source = "`pulumi up` creates these from the stack's secret config"
    if any(obj["metadata"]["name"] == WEIGHTS_SECRET for obj in secrets):
        source += (
            f" (`{WEIGHTS_SECRET}`: from the Object Storage key and bucket it creates, the"
            " endpoint being the bucket's `s3_endpoint`)"
        )
    lines = [
        "# Secrets of this stack (not rendered)",
        "",
        f"{source}. They are not written as YAML:",
        "applying a placeholder with this directory would overwrite the real values.",
        "",
        "| namespace | Secret | keys |",
        "|---|---|---|",
    ]
    for obj in secrets:
        meta = obj["metadata"]
        keys = sorted({**obj.get("stringData", {}), **obj.get("data", {})})
        lines.append(f"| {meta.get('namespace', '')} | {meta['name']} | {', '.join(keys)} |")
    return "\n".join(lines) + "\n"


_RENDERED = re.compile(r"[0-9]{3}-[a-z0-9]+-[a-z0-9.-]+\.yaml")


def _is_ours(name: str) -> bool:
    """Whether this command writes files of that name."""
    return name == SECRETS_FILE or _RENDERED.fullmatch(name) is not None


def main(args: argparse.Namespace) -> int:
    stack = load_offline(args)
    objects = stack.objects
    out = Path(args.out)
    files: dict[str, str] = {}
    secrets: list[dict[str, Any]] = []
    for i, obj in enumerate(objects, start=1):
        if obj["kind"] == "Secret":
            secrets.append(obj)
            continue
        name = f"{i:03d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
        files[name] = yaml.dump(obj, Dumper=_NoAliasDumper, sort_keys=False)
    files[SECRETS_FILE] = secrets_note(secrets)
    replace_render(out, files, _is_ours)
    print(
        f"wrote {len(objects) - len(secrets)} objects to {out}; "
        f"{len(secrets)} Secrets are listed in {SECRETS_FILE}, not rendered"
    )
    if stack.loaded.config.cluster.gpu_enablement_resolved == "gpu-operator":
        print(
            f"note: the NVIDIA GPU Operator (Helm chart {GPU_OPERATOR_CHART} "
            f"{GPU_OPERATOR_VERSION}) is a Helm release and is not rendered here"
        )
    return 0
