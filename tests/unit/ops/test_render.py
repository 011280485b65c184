"""`python -m ops render`: one YAML file per object, in apply order, secrets redacted, valid."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from components.config.source import load_from_stack_file
from components.manifests.stack import stack_objects
from components.planning.capacity import plan_stack
from ops.render_dir import MANIFEST
from tests.support.ops_cli import ops
from tests.support.stackfiles import ROOT, STACKS

CRD_GROUPS = ("monitoring.coreos.com/", "keda.sh/")


def render(stack: str, out: Path) -> subprocess.CompletedProcess[str]:
    return ops("render", "--stack", stack, "--out", str(out))


@pytest.mark.parametrize("stack", STACKS)
def test_render_writes_every_object_of_the_stack_once_in_apply_order(
    stack: str, tmp_path: Path
) -> None:
    result = render(stack, tmp_path)
    assert result.returncode == 0, result.stderr
    loaded = load_from_stack_file(ROOT / f"Pulumi.{stack}.yaml")
    expected = stack_objects(loaded, plan_stack(loaded.config))
    files = sorted(tmp_path.glob("*.yaml"))
    assert [yaml.safe_load(f.read_text()) for f in files] == [
        o for o in expected if o["kind"] != "Secret"
    ]
    for f in files:  # plain YAML: no anchors or aliases for reviewers to chase
        assert not re.search(r"[&*]id\d+", f.read_text()), f.name
    kinds = [o["kind"] for o in expected]
    assert kinds.index("Namespace") < kinds.index("StatefulSet") < kinds.index("Job")


@pytest.mark.parametrize("stack", STACKS)
def test_rendered_objects_validate_strictly_and_no_placeholder_secret_is_applicable(
    stack: str, tmp_path: Path
) -> None:
    """Applying the directory (GitOps) must never overwrite the real keys with a placeholder:
    Secrets are listed in SECRETS.md, which no tool applies, and never written as YAML."""
    assert render(stack, tmp_path).returncode == 0
    version = load_from_stack_file(ROOT / f"Pulumi.{stack}.yaml").config.cluster.k8s_version
    for f in sorted(tmp_path.iterdir()):
        assert f.suffix in (".yaml", ".md", ".txt"), f.name  # no tool applies .md or .txt
        if f.suffix != ".yaml":
            continue
        obj = yaml.safe_load(f.read_text())
        assert obj["kind"] != "Secret", f.name
        assert "REDACTED" not in f.read_text(), f.name
        if not obj["apiVersion"].startswith(CRD_GROUPS):
            kubernetes_validate.validate(obj, f"{version}.0", strict=True)
    note = (tmp_path / "SECRETS.md").read_text()
    assert "| vllm-api-key | api-key |" in note
    assert "| health-reporter-registry |" in note
    # Every committed stack serves a gated (meta-llama) model: its token Secret must be listed,
    # or a GitOps user applies pods that wait for a Secret nobody was told to create.
    assert "| hf-token | token |" in note


def test_render_removes_objects_the_stack_no_longer_has(tmp_path: Path) -> None:
    stale = tmp_path / "999-deployment-removed-model.yaml"
    stale.write_text("kind: Deployment\n")
    (tmp_path / MANIFEST).write_text(f"{stale.name}\n")  # an earlier render wrote it
    assert render("staging", tmp_path).returncode == 0
    assert not stale.exists()
    listed = (tmp_path / MANIFEST).read_text().splitlines()
    assert sorted(n for n in listed if not n.startswith("#")) == sorted(
        p.name for p in tmp_path.iterdir() if p.name != MANIFEST
    )


def test_render_of_an_invalid_stack_exits_2_without_writing(tmp_path: Path) -> None:
    doc = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())
    doc["config"]["vllm-platform:models"][0]["image"] = "vllm/vllm-openai:latest"
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    out = tmp_path / "out"
    result = ops("render", "--file", str(bad), "--out", str(out))
    assert result.returncode == 2
    assert "models[0].image:" in result.stderr
    assert not out.exists()


def test_render_never_deletes_files_it_did_not_write(tmp_path: Path) -> None:
    """`--out .` at the project root once deleted Pulumi.yaml and every stack file."""
    (tmp_path / "Pulumi.local.yaml").write_text("config: {}\n")
    result = render("staging", tmp_path)
    assert result.returncode == 2
    assert "holds files this command did not write (Pulumi.local.yaml;" in result.stderr
    assert (tmp_path / "Pulumi.local.yaml").read_text() == "config: {}\n"
    assert "Traceback" not in result.stderr


def test_an_out_path_under_a_file_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    result = render("staging", tmp_path / "file" / "render")
    assert result.returncode == 2
    assert "cannot make that directory" in result.stderr and "Traceback" not in result.stderr


def test_a_streamed_model_lists_the_bucket_keys_secret_and_renders_its_staging_job(
    tmp_path: Path,
) -> None:
    """weightSource.kind: objectStorage: the Secret of the key and the bucket's endpoint is
    listed, never written; the staging Job is rendered before the server; no rendered object
    names an Object Storage host (the endpoint is the bucket's output, by secretKeyRef)."""
    from ops.__main__ import main

    doc = yaml.safe_load((ROOT / "Pulumi.production.yaml").read_text())
    doc["config"]["vllm-platform:models"][0]["weightSource"] = {"kind": "objectStorage"}
    path = tmp_path / "Pulumi.production.yaml"
    path.write_text(yaml.safe_dump(doc))
    out = tmp_path / "out"
    assert main(["render", "--file", str(path), "--out", str(out)]) == 0
    note = (out / "SECRETS.md").read_text()
    assert "| weights-object-storage | access-key-id, endpoint-url, secret-access-key |" in note
    assert "`weights-object-storage`: from the Object Storage key and bucket it creates" in note
    files = sorted(f.name for f in out.iterdir())
    assert not [f for f in files if "secret" in f]
    [job] = [f for f in files if re.search(r"-job-llama-3-3-70b-instruct-stage-", f)]
    [server] = [f for f in files if re.search(r"-statefulset-llama-3-3-70b-instruct", f)]
    assert job < server
    rendered = "".join(f.read_text() for f in out.glob("*.yaml"))
    assert "REDACTED" not in rendered
    assert "linodeobjects.com" not in rendered
