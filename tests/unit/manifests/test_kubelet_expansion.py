"""What the builders write in a container's command, args and env values reaches the process
exactly as written: the kubelet's ``$(VAR)`` expansion leaves every one of them unchanged.

The kubelet expands ``$(VAR_NAME)`` in ``command``, ``args`` and ``env[].value`` with the
container's environment and turns ``$$`` into ``$`` (Kubernetes API reference, Container.args;
https://kubernetes.io/docs/tasks/inject-data-application/define-interdependent-environment-variables/).
``tests/support/kubelet.py`` follows the kubelet's code; the first test holds it to the
documented example.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config.source import load_from_stack_file
from components.manifests.stack import stack_objects
from components.planning.capacity import plan_stack
from ops.__main__ import main
from tests.support.kubelet import expand, mapping_for
from tests.support.stackfiles import ROOT, committed_stack_files

STACK_FILES = committed_stack_files(examples=True)


def test_expand_follows_the_documented_example() -> None:
    env = {"SERVICE_PORT": "80", "SERVICE_IP": "172.17.0.1", "PROTOCOL": "https"}
    mapping = mapping_for(env)
    written = "$(PROTOCOL)://$(SERVICE_IP):$(SERVICE_PORT)"
    assert expand(written, mapping) == "https://172.17.0.1:80"
    assert expand("$" + written, mapping) == "$(PROTOCOL)://172.17.0.1:80"  # $$( escapes
    assert expand("$(UNDEFINED) $(", mapping) == "$(UNDEFINED) $("
    assert expand("a$$b $x $", mapping) == "a$b $x $"


def _containers(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = obj.get("spec", {})
    template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get("template")
    if template is None:
        return
    pod = template["spec"]
    yield from pod.get("initContainers", [])
    yield from pod.get("containers", [])


def _values(container: dict[str, Any]) -> Iterator[str]:
    yield from container.get("command", [])
    yield from container.get("args", [])
    yield from (e["value"] for e in container.get("env", []) if "value" in e)


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_every_container_value_reaches_the_process_as_written(path: Path) -> None:
    loaded = load_from_stack_file(path)
    checked = 0
    for obj in stack_objects(loaded, plan_stack(loaded.config)):
        for container in _containers(obj):
            # Every variable the container defines, with a value that shows if it was used.
            names = {e["name"]: f"<{e['name']} expanded>" for e in container.get("env", [])}
            for value in _values(container):
                assert expand(value, mapping_for(names)) == value, (container["name"], value)
                checked += 1
    assert checked > 50


def test_a_token_reference_in_extra_args_is_never_rendered(tmp_path: Path) -> None:
    doc = yaml.safe_load((ROOT / "Pulumi.production.yaml").read_text())
    doc["config"]["vllm-platform:models"][1]["extraArgs"] = ["--response-role", "$(HF_TOKEN)"]
    stack = tmp_path / "Pulumi.hostile.yaml"
    stack.write_text(yaml.safe_dump(doc))
    out = tmp_path / "render"
    assert main(["render", "--file", str(stack), "--out", str(out)]) == 2
    assert not out.exists()
