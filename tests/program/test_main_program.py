"""The real __main__.py, run under Pulumi's mock runtime for every committed stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from tests.support.harness import TEST_SECRETS, committed_run, run_program, stack_file_config
from tests.support.stackfiles import STACKS

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.program


@pytest.mark.parametrize("stack", STACKS)
def test_program_completes_and_exports_endpoints_for_every_model(stack: str) -> None:
    run = committed_run(stack)
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


def test_a_gated_model_without_the_hf_token_is_refused_by_the_program() -> None:
    # Production serves meta-llama/* (gated by default): pods would crash-loop on 401.
    with pytest.raises(pulumi.RunError) as info:
        run_program("production", secrets={k: v for k, v in TEST_SECRETS.items() if k != "hfToken"})
    assert "pulumi config set --secret hfToken" in str(info.value)
    assert "llama-3-3-70b-instruct" in str(info.value)


def test_a_plain_text_provider_token_is_refused_by_the_program() -> None:
    with pytest.raises(pulumi.RunError) as info:
        run_program("development", overrides={"linode:token": "0123456789abcdef" * 4})
    assert "linode:token: is in plain text" in str(info.value)
    assert "0123456789abcdef" not in str(info.value)


@pytest.mark.parametrize(
    ("key", "text"), [("namespace", "null"), ("namespace", "true"), ("protect", "true")]
)
def test_the_program_and_ops_plan_read_a_quoted_value_alike(
    key: str, text: str, tmp_path: Path
) -> None:
    """Pulumi passes top-level values as strings and the program JSON-decodes them: a quoted
    "null" is no namespace name there, so ops plan must not plan one either."""
    from ops.__main__ import main

    doc = yaml.safe_load((ROOT / "Pulumi.development.yaml").read_text())
    doc["config"][f"vllm-platform:{key}"] = text
    path = tmp_path / "Pulumi.quoted.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main(["plan", "--file", str(path)]) == 2
    if key == "protect":  # `protect: true` unquoted is fine in both readings
        doc["config"]["vllm-platform:protect"] = True
        path.write_text(yaml.safe_dump(doc))
        assert main(["plan", "--file", str(path)]) == 0
        assert run_program("development", overrides={"protect": "true"}).outputs
    else:
        with pytest.raises(pulumi.RunError):
            run_program("development", overrides={key: text})


@pytest.mark.parametrize("stack", STACKS)
def test_the_program_reads_each_stack_file_exactly_as_ops_plan_does(stack: str) -> None:
    """One reading: the digest of the config the program validated (from the engine's strings)
    equals the digest of the config ops plan validated from the file."""
    from components.config.source import load_from_stack_file
    from components.planning.release import config_digest

    offline = load_from_stack_file(ROOT / f"Pulumi.{stack}.yaml").config
    assert committed_run(stack).outputs["release"]["configDigest"] == config_digest(offline)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (
            {
                "rollout": {"keepPrevious": 10},
                "loraAdapters": [{"name": "sql-expert", "hfRepo": "org/sql", "revision": "c" * 40}],
            },
            "models[1].rollout.keepPrevious: not yet with loraAdapters",
        ),
    ],
)
def test_the_program_refuses_the_options_it_cannot_apply_yet(
    change: dict[str, Any], key: str
) -> None:
    # #27: ops plan evaluates them; `pulumi up` must not deploy as if they were in place.
    config = stack_file_config("production")
    models = [dict(m) for m in config["vllm-platform:models"]]
    models[1].update(change)
    cluster = dict(config["vllm-platform:cluster"])
    cluster["gpuPool"] = {**cluster["gpuPool"], "autoscaler": {"min": 4, "max": 11}}
    with pytest.raises(pulumi.RunError) as info:  # placeable with room for the kept replicas
        run_program("production", overrides={"models": models, "cluster": cluster})
    assert key in str(info.value)
