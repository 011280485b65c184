"""checkov's Kubernetes checks over every committed stack's rendered objects: zero failures.

``python -m ops render --stack NAME --out DIR`` writes the objects (one per file); checkov runs
over them with the repository's ``.checkov.yaml`` (framework, offline ``skip-download``, and
the short, justified ``skip-check`` list). checkov runs once per session over all of them
(the ``checkov_scan`` fixture, tests/support/checkov.py); each test reads its own part.
"""

from __future__ import annotations

import re

import pytest
import yaml

from tests.support.checkov import CONFIG, CheckovScan
from tests.support.stackfiles import STACKS

MAX_SKIPS = 5


@pytest.mark.parametrize("stack", STACKS)
def test_rendered_stack_passes_every_checkov_kubernetes_check(
    stack: str, checkov_scan: CheckovScan
) -> None:
    assert checkov_scan.yaml_files(f"stacks/{stack}"), "ops render wrote nothing"
    summary = checkov_scan.report["summary"]
    assert summary["parsing_errors"] == 0
    # Every file written was read as at least one resource.
    assert summary["resource_count"] >= len(checkov_scan.yaml_files())
    assert checkov_scan.failures(f"stacks/{stack}") == []


def test_health_reporter_objects_pass_every_checkov_kubernetes_check(
    checkov_scan: CheckovScan,
) -> None:
    """The staging config's health reporter objects (CronJob, ConfigMap, Secret, policy)."""
    assert checkov_scan.yaml_files("health-reporter")
    assert checkov_scan.report["summary"]["parsing_errors"] == 0
    assert checkov_scan.failures("health-reporter") == []


def test_a_model_keeping_its_previous_revision_passes_every_checkov_kubernetes_check(
    checkov_scan: CheckovScan,
) -> None:
    """Both workloads (the kept and the served revision) and the flipped Services."""
    [objects] = checkov_scan.yaml_files("keep-previous")
    assert sum(o["kind"] == "StatefulSet" for o in yaml.safe_load_all(objects.read_text())) == 2
    assert checkov_scan.failures("keep-previous") == []


def test_the_weight_staging_job_passes_every_checkov_kubernetes_check(
    checkov_scan: CheckovScan,
) -> None:
    """weightSource.kind: objectStorage: the Job copying the revision into the bucket, its
    policy and the server streaming from it, among the model's other objects."""
    [objects] = checkov_scan.yaml_files("stage-weights")
    kinds = [o["kind"] for o in yaml.safe_load_all(objects.read_text())]
    assert kinds.count("Job") == 2  # staging and smoke
    assert {"NetworkPolicy", "StatefulSet"} <= set(kinds)
    assert checkov_scan.failures("stage-weights") == []


def test_checkov_reports_a_failing_object(checkov_scan: CheckovScan) -> None:
    """The harness sees failures, per file: a privileged, root, unprobed pod fails checks."""
    failed = checkov_scan.failures("known-bad")
    ids = {f.split()[0] for f in failed}
    assert {"CKV_K8S_16", "CKV_K8S_8", "CKV_K8S_9"} <= ids  # privileged, liveness, readiness
    assert all(f.endswith("(/known-bad/pod.yaml)") for f in failed)
    assert not ids & set(skip_checks())  # skipped checks really are skipped


def skip_checks() -> list[str]:
    config = yaml.safe_load(CONFIG.read_text())
    return list(config.get("skip-check", []))


def test_the_checkov_config_is_offline_kubernetes_and_every_skip_has_a_reason() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    assert config["framework"] == ["kubernetes"]
    assert config["skip-download"] is True
    skips = skip_checks()
    assert len(skips) <= MAX_SKIPS, "keep the skip list short: fix the builders instead"
    assert len(set(skips)) == len(skips)
    lines = CONFIG.read_text().splitlines()
    for check in skips:
        assert re.fullmatch(r"CKV_K8S_\d+", check)
        i = lines.index(f"  - {check}")
        assert lines[i - 1].strip().startswith("#"), f"{check} needs a reason comment above it"
