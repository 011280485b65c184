"""The real __main__.py, run under Pulumi's mock runtime for every committed stack."""

from __future__ import annotations

import pulumi
import pytest

from tests.support.harness import TEST_SECRETS, run_program, stack_file_config
from tests.support.stackfiles import STACKS

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


def test_invalid_config_fails_before_any_resource_with_every_error_listed() -> None:
    cfg = stack_file_config("production")
    models = [dict(m) for m in cfg["vllm-platform:models"]]
    models[0]["image"] = "vllm/vllm-openai:latest"
    models[1]["gpusPerReplica"] = 3
    with pytest.raises(pulumi.RunError) as info:
        run_program("production", overrides={"models": models, "modles": []})
    message = str(info.value)
    assert "models[0].image:" in message
    assert "models[1].gpusPerReplica:" in message
    assert "modles: unknown key" in message


def test_missing_secrets_fail_with_the_commands_to_set_them() -> None:
    with pytest.raises(pulumi.RunError) as info:
        run_program("staging", secrets={"hfToken": "x"})
    assert "pulumi config set --secret vllmApiKey" in str(info.value)


def test_secret_given_in_plain_text_is_rejected_without_echoing_it() -> None:
    with pytest.raises(pulumi.RunError) as info:
        run_program(
            "development",
            overrides={"vllmApiKey": "sk-plain-text-key"},
            secrets={k: v for k, v in TEST_SECRETS.items() if k != "vllmApiKey"},
        )
    assert "vllmApiKey: is in plain text" in str(info.value)
    assert "sk-plain-text-key" not in str(info.value)


def test_a_run_that_failed_mid_registration_does_not_break_the_next_run() -> None:
    import pulumi_kubernetes as k8s

    from tests.support.harness import mocked_run

    def failing() -> None:
        def boom(_: str) -> str:
            raise ValueError("planted failure")

        provider = k8s.Provider("k8s", kubeconfig="{}")
        for i in range(3):
            k8s.core.v1.ConfigMap(
                f"cm-{i}",
                metadata={"name": pulumi.Output.from_input("x").apply(boom)},
                opts=pulumi.ResourceOptions(provider=provider),
            )

    with pytest.raises(Exception, match="planted failure"):
        mocked_run(failing, stack="development")
    run = run_program("development")
    assert run.outputs["environment"] == "development"
