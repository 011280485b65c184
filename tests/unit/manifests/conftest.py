"""The session's one checkov scan (tests/support/checkov.py)."""

from __future__ import annotations

import pytest
import yaml

from components.config.source import load_from_stack_file
from components.manifests.health_reporter import health_reporter_objects
from tests.support.checkov import CheckovScan, render_stack, run_checkov
from tests.support.stackfiles import ROOT, STACKS
from tests.unit.manifests.vllm.support import keep_previous_objects, stage_objects

HEALTH_REPORTER_STACK = "staging"
# A privileged, root, unprobed pod: fails CKV_K8S_16 (privileged), _8 and _9 (probes).
KNOWN_BAD_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "bad", "namespace": "default"},
    "spec": {
        "containers": [
            {
                "name": "bad",
                "image": "busybox:latest",
                "securityContext": {"privileged": True, "runAsUser": 0},
            }
        ]
    },
}


@pytest.fixture(scope="session")
def checkov_scan(tmp_path_factory: pytest.TempPathFactory) -> CheckovScan:
    """``stacks/<stack>/`` (ops render), ``health-reporter/``, ``keep-previous/`` (a model
    keeping its previous revision: two workloads), ``stage-weights/`` (the staging Job) and
    ``known-bad/``, one run."""
    root = tmp_path_factory.mktemp("checkov")
    for stack in STACKS:
        render_stack(stack, root / "stacks" / stack)
    reporter = health_reporter_objects(
        load_from_stack_file(ROOT / f"Pulumi.{HEALTH_REPORTER_STACK}.yaml").config
    )
    (root / "health-reporter").mkdir()
    (root / "health-reporter" / "health-reporter.yaml").write_text(yaml.safe_dump_all(reporter))
    (root / "keep-previous").mkdir()
    (root / "keep-previous" / "model.yaml").write_text(yaml.safe_dump_all(keep_previous_objects()))
    (root / "stage-weights").mkdir()
    (root / "stage-weights" / "job.yaml").write_text(yaml.safe_dump_all(stage_objects()))
    (root / "known-bad").mkdir()
    (root / "known-bad" / "pod.yaml").write_text(yaml.safe_dump(KNOWN_BAD_POD))
    return CheckovScan(root, run_checkov(root))
