"""`python -m ops schema [--check]`: the JSON Schema of Pulumi.<stack>.yaml, from StackConfig.

Editors (VS Code's YAML extension, JetBrains) validate stack files with it:
`# yaml-language-server: $schema=schema/stack-config.schema.json`. A test keeps it current.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from components.config import PROJECT, SECRET_KEYS, StackConfig
from ops.common import PROJECT_ROOT

__all__ = ["main", "stack_file_schema"]


def stack_file_schema() -> dict[str, Any]:
    model = StackConfig.model_json_schema(by_alias=True, mode="validation")
    defs = model.pop("$defs", {})
    required = set(model.get("required", []))
    props: dict[str, Any] = {
        f"{PROJECT}:{key}": value for key, value in model["properties"].items()
    }
    secure = {
        "type": "object",
        "properties": {"secure": {"type": "string"}},
        "required": ["secure"],
        "additionalProperties": False,
    }
    for key, (_, purpose) in SECRET_KEYS.items():
        props[f"{PROJECT}:{key}"] = {
            **secure,
            "description": f"{purpose}; set with `pulumi config set --secret {key}`",
        }
    known = sorted(props)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"Pulumi stack file of {PROJECT}",
        "description": "Generated from components/config.py by `python -m ops schema`.",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": props,
                "required": sorted(f"{PROJECT}:{k}" for k in required),
                # Other namespaces (linode:, kubernetes:, pulumi:) are allowed; unknown keys of
                # this project are not.
                "propertyNames": {"anyOf": [{"enum": known}, {"not": {"pattern": f"^{PROJECT}:"}}]},
            },
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "encryptionsalt": {"type": "string"},
            "environment": {},
        },
        "$defs": defs,
    }


def render() -> str:
    return json.dumps(stack_file_schema(), indent=2, sort_keys=True) + "\n"


def main(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if not out.is_absolute():
        out = PROJECT_ROOT / out
    text = render()
    if args.check:
        current = out.read_text(encoding="utf-8") if out.exists() else ""
        if current != text:
            print(f"{out} is out of date; run `python -m ops schema`")
            return 1
        print(f"{out} is current")
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}")
    return 0
