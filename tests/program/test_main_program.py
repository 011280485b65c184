"""The real __main__.py, run under Pulumi's mock runtime for every committed stack."""

from __future__ import annotations

import pytest

from tests.program.harness import STACKS, run_program, stack_file_config

pytestmark = pytest.mark.program


@pytest.mark.parametrize("stack", STACKS)
def test_program_completes_and_exports_endpoints_for_every_model(stack: str) -> None:
    run = run_program(stack)
    cfg = stack_file_config(stack)
    namespace = cfg["vllm-platform:namespace"]
    assert run.outputs["environment"] == stack
    assert run.outputs["endpoints"] == {
        m["name"]: f"http://{m['name']}.{namespace}.svc.cluster.local:8000/v1"
        for m in cfg["vllm-platform:models"]
    }
