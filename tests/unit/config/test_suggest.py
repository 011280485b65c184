"""Help where it is looked for: did-you-mean for keys, GPU plans and stack names, a key under
another project's prefix named as ignored, a stack file importing ESC, a CPU-only stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import ConfigError, load_stack_config
from components.config.source import load_from_stack_file
from ops.__main__ import main
from tests.support.stackfiles import ROOT, raw_stack

P = "vllm-platform:"


def _issues(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        load_stack_config(raw)
    return {i.path: i.message for i in info.value.issues}


@pytest.mark.parametrize(
    ("edit", "path", "hint"),
    [
        (
            lambda r: r["models"][0].update(maxModelLength=4096),
            "models[0].maxModelLength",
            "maxModelLen",
        ),
        (lambda r: r.update(modelz=[]), "modelz", "models"),
        (
            lambda r: r["cluster"]["gpuPool"].update(autoscalar={}),
            "cluster.gpuPool.autoscalar",
            "autoscaler",
        ),
        (lambda r: r["registry"].update(ssl_mode="require"), "registry.ssl_mode", "sslmode"),
        (
            lambda r: r["models"][0].update(weightCache={"sizegi": 40}),
            "models[0].weightCache.sizegi",
            "sizeGi",
        ),
    ],
)
def test_an_unknown_key_gets_the_closest_known_key_at_its_place(
    edit: Any, path: str, hint: str
) -> None:
    raw = raw_stack("development")
    edit(raw)
    assert _issues(raw)[path] == f"unknown key (did you mean {hint}?)"


def test_an_unknown_key_far_from_any_gets_no_guess() -> None:
    raw = raw_stack("development")
    raw["models"][0]["banana"] = 1
    assert _issues(raw)["models[0].banana"] == "unknown key"


def test_an_unknown_gpu_plan_gets_the_closest_plan() -> None:
    raw = raw_stack("development")
    raw["cluster"]["gpuPool"]["type"] = "g2-gpu-rtx4000a1-md"
    message = _issues(raw)["cluster.gpuPool.type"]
    assert (
        "unknown LKE GPU plan 'g2-gpu-rtx4000a1-md' (did you mean g2-gpu-rtx4000a1-m?)" in message
    )


@pytest.mark.parametrize(("typed", "meant"), [("prod", "production"), ("stagin", "staging")])
def test_an_unknown_stack_name_gets_the_closest_stack(
    typed: str, meant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "--stack", typed]) == 2
    assert f"(did you mean {meant}?)" in capsys.readouterr().err


def _write(tmp_path: Path, doc: dict[str, Any], name: str = "Pulumi.x.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _doc(stack: str = "production") -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    assert isinstance(doc, dict)
    return doc


@pytest.mark.parametrize(
    "prefix", ["vllm_platform", "vllmplatform", "vllm-platfrom", "VLLM-Platform"]
)
def test_a_key_under_another_projects_prefix_is_named_as_ignored(
    prefix: str, tmp_path: Path
) -> None:
    doc = _doc()
    doc["config"][f"{prefix}:protect"] = False
    with pytest.raises(ConfigError) as info:
        load_from_stack_file(_write(tmp_path, doc))
    [issue] = info.value.issues
    assert issue.path == f"{prefix}:protect"
    assert "so it is ignored (did you mean vllm-platform:protect?)" in issue.message


def test_other_providers_keys_are_not_taken_for_a_misspelt_prefix(tmp_path: Path) -> None:
    doc = _doc()
    doc["config"].update({"linode:apiVersion": "v4", "kubernetes:enableServerSideApply": True})
    assert load_from_stack_file(_write(tmp_path, doc)).config.environment == "production"


def test_a_stack_file_importing_esc_is_planned_saying_what_it_could_not_see(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = {"environment": ["vllm-platform/production"], **_doc()}
    path = _write(tmp_path, doc, "Pulumi.esc.yaml")
    assert main(["plan", "--file", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("2 cautions · Pulumi.esc.yaml")
    assert "Not seen: the ESC environment vllm-platform/production (`environment:`)" in out
    assert "Secrets to set" not in out  # ESC may set them: not reported as missing
    assert (
        "Secrets not in the file (the ESC environment vllm-platform/production may set them" in out
    )


def test_a_required_key_missing_beside_an_esc_import_says_esc_may_set_it(tmp_path: Path) -> None:
    doc = {"environment": ["shared/registry"], **_doc()}
    del doc["config"][P + "registry"]
    with pytest.raises(ConfigError) as info:
        load_from_stack_file(_write(tmp_path, doc))
    [issue] = info.value.issues
    assert issue.path == "registry"
    assert "the imported ESC environment (shared/registry) may set it" in issue.message


# ------------------------------------------------------------------------------ CPU only


def test_the_local_cpu_example_plans_with_no_gpu_pool_and_no_caution(
    capsys: pytest.CaptureFixture[str],
) -> None:
    example = ROOT / "examples" / "Pulumi.local.yaml"
    assert "gpuPool" not in example.read_text()
    assert main(["plan", "--file", str(example)]) == 0
    out = capsys.readouterr().out
    assert (
        out.splitlines()[0]
        == "OK · Pulumi.local.yaml: environment development, namespace vllm-local"
    )
    assert "GPU pool: none (every model runs on CPU)" in out
    assert "Cautions" not in out
    assert "GitHub-hosted runner" not in out and "DEPLOY_RUNNER" not in out
    assert "no vLLM flag contract" not in out


def test_a_gpu_model_still_needs_a_gpu_pool() -> None:
    raw = raw_stack("staging")
    del raw["cluster"]["gpuPool"]
    assert "required: models[0] runs on a GPU" in _issues(raw)["cluster.gpuPool"]


def test_create_mode_needs_a_gpu_pool_even_for_cpu_models() -> None:
    raw = raw_stack("development")
    del raw["cluster"]["gpuPool"]
    for model in raw["models"]:
        model.update(accelerator="cpu", extraArgs=[], image="vllm/vllm-openai-cpu:v0.11.0")
    assert (
        _issues(raw)["cluster.gpuPool"] == "required when mode is create (the cluster's GPU nodes)"
    )
