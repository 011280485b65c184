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

from components.capacity import plan_stack
from components.config import ConfigError
from components.config_source import StackFileError, load_from_stack_file
from components.device_plugin import GPU_OPERATOR_CHART, GPU_OPERATOR_VERSION
from components.manifests import stack_objects
from ops.common import CommandError, eprint, stack_file

__all__ = ["main"]


def main(args: argparse.Namespace) -> int:
    path = stack_file(args.stack, args.file)
    try:
        loaded = load_from_stack_file(path)
        objects = stack_objects(loaded, plan_stack(loaded.config))
    except StackFileError as exc:
        raise CommandError(str(exc)) from None
    except ConfigError as exc:
        eprint(f"{path.name}: {len(exc.issues)} error(s):")
        for issue in exc.issues:
            eprint(f"  {issue}")
        return 2
    except ValueError as exc:
        raise CommandError(f"{path.name}: {exc}") from None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.yaml"):
        old.unlink()
    for i, obj in enumerate(objects, start=1):
        name = f"{i:03d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
        (out / name).write_text(yaml.safe_dump(obj, sort_keys=False), encoding="utf-8")
    print(f"wrote {len(objects)} objects to {out}")
    if loaded.config.cluster.gpu_enablement_resolved == "gpu-operator":
        print(
            f"note: the NVIDIA GPU Operator (Helm chart {GPU_OPERATOR_CHART} "
            f"{GPU_OPERATOR_VERSION}) is a Helm release and is not rendered here"
        )
    return 0
