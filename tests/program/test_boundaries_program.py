"""The program refuses what `ops plan` refuses at the boundaries (issue 23): a stack named for
another environment, a config value nested too deeply to decode, a token by reference in the
vLLM arguments; each before any resource, as a RunError naming the key."""

from __future__ import annotations

import pulumi
import pytest

from tests.support.harness import run_program, stack_file_config

pytestmark = pytest.mark.program


def test_a_stack_named_staging_cannot_deploy_production() -> None:
    with pytest.raises(pulumi.RunError) as info:
        run_program("staging", config=stack_file_config("production"))
    assert "environment: the stack's name 'staging' names the environment" in str(info.value)


def test_a_value_nested_too_deeply_is_refused_not_a_recursion_error() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(pulumi.RunError) as info:
        run_program("development", overrides={"gpuBudget": deep})
    assert "gpuBudget: nested too deeply" in str(info.value)


def test_a_token_by_reference_never_reaches_the_server_args() -> None:
    models = stack_file_config("production")["vllm-platform:models"]
    models[1]["extraArgs"] = ["--response-role", "$(HF_TOKEN)"]
    with pytest.raises(pulumi.RunError) as info:
        run_program("production", overrides={"models": models})
    assert "models[1].extraArgs[1]: holds '$('" in str(info.value)
