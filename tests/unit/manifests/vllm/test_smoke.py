"""components/manifests/vllm/smoke.py: the smoke-test Job."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from components.manifests import toolkit
from components.manifests.toolkit import API_KEY_SECRET, read_asset
from components.manifests.vllm.render import model_objects
from components.manifests.vllm.smoke import smoke_job
from components.manifests.vllm.workload import (
    workload,
)
from components.resources.registration import child_name
from tests.unit.manifests.vllm.support import container, stack

# -------------------------------------------------------------------------------- smoke test


def test_smoke_job_calls_chat_completions_with_the_key_from_the_secret() -> None:
    cfg, m, plan = stack()
    job = smoke_job(cfg, m, workload(cfg, m, plan))
    c = container(job)
    env = {e["name"]: e for e in c["env"]}
    assert env["SMOKE_PATH"]["value"] == "/v1/chat/completions"
    assert env["SMOKE_PORT"]["value"] == "8000"
    assert env["SMOKE_TARGETS"]["value"].split() == [
        f"llama-3-3-70b-instruct-{i}.llama-3-3-70b-instruct-pods.vllm-production.svc.cluster.local"
        for i in range(2)
    ]
    assert env["VLLM_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == API_KEY_SECRET
    assert env["SMOKE_TIMEOUT_SECONDS"]["value"] == "3"
    assert '"model":"llama-3-3-70b-instruct"' in env["SMOKE_PAYLOADS"]["value"]
    assert "messages" in env["SMOKE_PAYLOADS"]["value"]
    script = c["command"][-1]
    assert '--max-time "$SMOKE_TIMEOUT_SECONDS"' in script
    assert '!= "200"' in script  # each replica's answer is checked: test_smoke_script.py
    assert job["spec"]["backoffLimit"] >= 0 and job["spec"]["activeDeadlineSeconds"] > 0
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_smoke_job_uses_completions_for_base_models_and_the_model_budget() -> None:
    cfg, m, plan = stack(api="completions", smokeTestTimeoutSeconds=7.5)
    job = smoke_job(cfg, m, workload(cfg, m, plan))
    env = {e["name"]: e.get("value") for e in container(job)["env"]}
    assert env["SMOKE_PATH"] == "/v1/completions"
    assert '"prompt"' in env["SMOKE_PAYLOADS"]
    assert env["SMOKE_TIMEOUT_SECONDS"] == "7.5"


def test_smoke_job_name_changes_with_the_served_spec_and_is_stable_otherwise() -> None:
    cfg, m, plan = stack()
    first = model_objects(cfg, m, plan)[-1]
    again = model_objects(cfg, m, plan)[-1]
    assert first["kind"] == "Job"
    assert first["metadata"]["name"] == again["metadata"]["name"]
    assert first["metadata"]["name"].startswith(f"{m.name}-smoke-")
    assert len(first["metadata"]["name"].rsplit("-", 1)[1]) == 8
    cfg2, m2, plan2 = stack(image="vllm/vllm-openai:v0.32.0@sha256:" + "1" * 64)
    assert model_objects(cfg2, m2, plan2)[-1]["metadata"]["name"] != first["metadata"]["name"]
    # Scaling adds replicas that serve traffic: the test runs again and reaches them too.
    cfg3, m3, plan3 = stack(replicas=3, max_nodes=9)
    assert model_objects(cfg3, m3, plan3)[-1]["metadata"]["name"] != first["metadata"]["name"]
    # A new weight cache replaces the StatefulSet (every replica down): a new rollout, a new test.
    cfg4, m4, plan4 = stack(weightCache={"sizeGi": 200})
    assert model_objects(cfg4, m4, plan4)[-1]["metadata"]["name"] != first["metadata"]["name"]


def test_child_names_are_unique_and_ignore_the_smoke_hash() -> None:
    cfg, m, plan = stack()
    keys = [child_name(m.name, o) for o in model_objects(cfg, m, plan)]
    assert len(keys) == len(set(keys))
    assert f"{m.name}-job-smoke" in keys and f"{m.name}-service-pods" in keys


def test_the_job_runs_the_smoke_asset_and_its_name_covers_every_byte_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, m, plan = stack()
    server = workload(cfg, m, plan)
    shipped = smoke_job(cfg, m, server)
    assert container(shipped)["command"] == ["/bin/sh", "-c", read_asset("smoke.sh")]
    # The same script with one byte changed, shipped from another assets directory.
    edited = tmp_path / "assets"
    shutil.copytree(toolkit.ASSETS_DIR, edited)
    script = (edited / "smoke.sh").read_text(encoding="utf-8")
    (edited / "smoke.sh").write_text(script.replace("set -u", "set -e", 1), encoding="utf-8")
    monkeypatch.setattr(toolkit, "ASSETS_DIR", edited)
    changed = smoke_job(cfg, m, server)
    assert container(changed)["command"][-1] != container(shipped)["command"][-1]
    assert changed["metadata"]["name"] != shipped["metadata"]["name"]
