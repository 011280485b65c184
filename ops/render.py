"""`python -m ops render --stack NAME --out DIR`: every Kubernetes object the stack would apply.

One object per YAML file, named ``NNN-<kind>-<name>.yaml`` in apply order, built by the same
builders the components register. Earlier ``*.yaml`` files in DIR are removed first, so an
object the stack no longer has does not linger. This is what a reviewer reads in a pull
request, and what GitOps users can apply.

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
from ops.common import CommandError
from ops.stack import load_offline

SECRETS_FILE = "SECRETS.md"


class _NoAliasDumper(yaml.SafeDumper):
    """Spell out repeated values (e.g. one probe target shared by three probes) instead of
    writing YAML anchors and aliases, which reviewers and some GitOps tools stumble over."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def secrets_note(secrets: list[dict[str, Any]]) -> str:
    lines = [
        "# Secrets of this stack (not rendered)",
        "",
        "`pulumi up` creates these from the stack's secret config. They are not written as YAML:",
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


def main(args: argparse.Namespace) -> int:
    stack = load_offline(args)
    objects = stack.objects
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(
            f"--out {args.out}: cannot make that directory ({exc.strerror})"
        ) from None
    # Only an earlier render's files go: NNN-kind-name.yaml and SECRETS.md. A directory holding
    # anything else that looks like a manifest (a stack file, Pulumi.yaml) is refused, never
    # emptied.
    foreign = sorted(p.name for p in out.glob("*.yaml") if not _RENDERED.fullmatch(p.name))
    if foreign:
        raise CommandError(
            f"--out {args.out} holds files this command did not write ({', '.join(foreign[:3])}"
            + (", ..." if len(foreign) > 3 else "")
            + "); give an empty directory or an earlier render's, e.g. render/<stack>"
        )
    for old in [*out.glob("*.yaml"), out / SECRETS_FILE]:
        old.unlink(missing_ok=True)
    secrets: list[dict[str, Any]] = []
    for i, obj in enumerate(objects, start=1):
        if obj["kind"] == "Secret":
            secrets.append(obj)
            continue
        name = f"{i:03d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
        text = yaml.dump(obj, Dumper=_NoAliasDumper, sort_keys=False)
        (out / name).write_text(text, encoding="utf-8")
    (out / SECRETS_FILE).write_text(secrets_note(secrets), encoding="utf-8")
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
