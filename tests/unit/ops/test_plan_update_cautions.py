"""What `ops plan --explain` says about updates that move or drop a model's storage and GPUs.

- A new name or a switch of ``weightCache.mode`` creates the new workload before the old one is
  deleted: the plan names the spare GPUs that needs and the two updates that work when the
  quota cannot hold both (``components/planning/transitions.py``).
- ``linode-block-storage-retain`` (the default class) keeps the Linode Volume behind every
  deleted claim (``reclaimPolicy: Retain``, linode-blockstorage-csi-driver
  ``helm-chart/csi-driver/templates/linode-block-storage-retain.yaml:16``): the plan says so
  and how to find and remove them.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ops.__main__ import main as ops_main
from tests.support.stackfiles import ROOT


def _plan(capsys: pytest.CaptureFixture[str], tmp_path: Path, stack: str, **model: object) -> str:
    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    models = copy.deepcopy(doc["config"]["vllm-platform:models"])
    models[0].update(model)
    doc["config"]["vllm-platform:models"] = models
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert ops_main(["plan", "--file", str(path), "--explain"]) == 0
    return capsys.readouterr().out


def test_a_full_quota_gets_the_spare_gpus_and_the_two_updates(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = _plan(capsys, tmp_path, "development")
    line = next(x for x in out.splitlines() if "models[0].name=llama-3-1-8b-instruct" in x)
    assert "create the new workload before the old one is deleted" in line
    assert "needs 1 spare GPU meanwhile" in line
    assert "do it in two updates: remove models[0] and `pulumi up`" in line
    assert "scale to 0" not in out  # replicas cannot be 0


def test_the_default_storage_class_keeps_volumes_and_the_plan_says_how_to_remove_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = _plan(capsys, tmp_path, "development")
    line = next(x for x in out.splitlines() if "storageClass=linode-block-storage-retain" in x)
    assert "keeps the Linode Volume" in line
    assert "kubectl get pv" in line and "linode-cli volumes delete" in line


def test_a_deleting_storage_class_names_no_retained_volumes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = _plan(
        capsys, tmp_path, "development", weightCache={"storageClass": "linode-block-storage"}
    )
    line = next(x for x in out.splitlines() if "models[0].weightCache.sizeGi=" in x)
    assert "keeps the Linode Volume" not in line
