"""``weightSource.kind: objectStorage`` as the program registers it (#27 item 2): the bucket and
its limited key, the key's Secret, the staging Job before the server, the streamed server."""

from __future__ import annotations

import copy
from functools import cache

import pulumi
import pytest

from components.config import StackConfig
from components.config.source import load_from_stack_file
from components.manifests.toolkit import (
    WEIGHTS_SECRET,
    WEIGHTS_SECRET_ACCESS_KEY,
    WEIGHTS_SECRET_SECRET_KEY,
)
from components.manifests.vllm.streamer import (
    LOAD_FORMAT,
    bucket_label,
    stage_job_name,
    weights_uri,
)
from tests.support.harness import ProgramRun, Registered, run_program, stack_file_config
from tests.support.stackfiles import ROOT

pytestmark = pytest.mark.program

BUCKET = "linode:index/objectStorageBucket:ObjectStorageBucket"
KEY = "linode:index/objectStorageKey:ObjectStorageKey"
STREAMED = 0  # the 70B of the production stack file


def _models() -> list[dict[str, object]]:
    models = copy.deepcopy(stack_file_config("production")["vllm-platform:models"])
    models[STREAMED]["weightSource"] = {"kind": "objectStorage", "concurrency": 12}
    return list(models)


@cache
def _streamed_run() -> ProgramRun:
    return run_program("production", overrides={"models": _models()})


def _config() -> StackConfig:
    cfg = load_from_stack_file(ROOT / "Pulumi.production.yaml").config
    models = list(cfg.models)
    s = models[STREAMED]
    models[STREAMED] = s.model_copy(
        update={"weight_source": s.weight_source.model_copy(update={"kind": "objectStorage"})}
    )
    return cfg.model_copy(update={"models": models})


def _k8s(run: ProgramRun, kind: str, name: str) -> Registered:
    (found,) = [r for r in run.kubernetes() if r.inputs.get("kind") == kind and r.k8s_name == name]
    return found


def test_the_stack_owns_a_protected_bucket_in_the_clusters_region_and_a_key_for_it_only() -> None:
    run = _streamed_run()
    cfg = _config()
    bucket = run.one(BUCKET)
    assert bucket.inputs == {"label": bucket_label(cfg), "region": cfg.cluster.region}
    assert bucket.protect  # production
    key = run.one(KEY)
    assert key.protect
    assert key.inputs["bucketAccesses"] == [
        {"bucketName": bucket_label(cfg), "region": cfg.cluster.region, "permissions": "read_write"}
    ]
    assert "secretKey" in key.additional_secret_outputs


def test_the_keys_secret_is_made_from_the_keys_outputs_as_secrets() -> None:
    run = _streamed_run()
    secret = _k8s(run, "Secret", WEIGHTS_SECRET)
    assert secret.inputs["stringData"] == {
        WEIGHTS_SECRET_ACCESS_KEY: "FAKEACCESSKEY",
        WEIGHTS_SECRET_SECRET_KEY: "fake-secret-key",
    }
    assert "stringData" in secret.secret_inputs
    assert run.one(KEY).urn in secret.dependencies
    assert "FAKEACCESSKEY" not in repr(run.outputs)
    assert "fake-secret-key" not in repr(run.outputs)


def test_the_streamed_server_waits_for_its_staging_job_and_reads_the_bucket() -> None:
    run = _streamed_run()
    cfg = _config()
    model = cfg.models[STREAMED]
    job = _k8s(run, "Job", stage_job_name(model))
    secret = _k8s(run, "Secret", WEIGHTS_SECRET)
    assert secret.urn in job.dependencies
    deadline = job.inputs["spec"]["activeDeadlineSeconds"]
    # Pulumi's await outlasts the Job's own deadline (docs/provider-semantics.md, Job rows).
    assert float(job.custom_timeouts["create"].removesuffix("m")) * 60 > deadline
    assert job.delete_before_replace
    (server,) = [
        r
        for r in run.kubernetes()
        if r.inputs.get("kind") in {"StatefulSet", "Deployment"}
        and r.inputs["metadata"]["labels"].get("app.kubernetes.io/name") == model.name
    ]
    assert job.urn in server.dependencies
    assert secret.urn in server.dependencies
    pod = server.inputs["spec"]["template"]["spec"]
    inits = [c["name"] for c in pod.get("initContainers", [])]
    assert "fetch-weights" not in inits
    assert inits  # the allowlist sidecar stays
    (vllm,) = [c for c in pod["containers"] if c["name"] == "vllm"]
    assert vllm["args"][0] == weights_uri(model, bucket_label(cfg))
    assert vllm["args"][vllm["args"].index("--load-format") + 1] == LOAD_FORMAT
    env = {e["name"]: e for e in vllm["env"]}
    assert env["RUNAI_STREAMER_CONCURRENCY"]["value"] == "12"
    assert env["AWS_ENDPOINT_URL"]["value"] == f"https://{cfg.cluster.region}-1.linodeobjects.com"
    ref = env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": WEIGHTS_SECRET, "key": WEIGHTS_SECRET_SECRET_KEY}


def test_other_models_and_stacks_without_a_streamed_model_get_no_bucket() -> None:
    run = _streamed_run()
    stage_jobs = [r for r in run.kubernetes() if "-stage-" in r.k8s_name]
    assert len(stage_jobs) == 1  # only the streamed model's
    plain = run_program("development")
    assert plain.by_type(BUCKET) == plain.by_type(KEY) == []
    assert all(r.k8s_name != WEIGHTS_SECRET for r in plain.kubernetes())


def test_an_attached_cluster_refuses_object_storage_by_its_key() -> None:
    # Staging attaches production's cluster (cluster.mode stack): no region, no bucket.
    models = copy.deepcopy(stack_file_config("staging")["vllm-platform:models"])
    models[0]["weightSource"] = {"kind": "objectStorage"}
    with pytest.raises(pulumi.RunError) as info:
        run_program("staging", overrides={"models": models})
    assert "models[0].weightSource.kind: objectStorage needs cluster.mode create" in str(info.value)


def test_with_keep_previous_the_staging_job_still_comes_before_the_served_workload() -> None:
    """keepPrevious registers the workloads first (the Services wait for them): the staging
    Job is moved up with them, so the served workload can still wait for it."""
    models = _models()
    models[STREAMED]["rollout"] = {"keepPrevious": 30}
    cluster = dict(stack_file_config("production")["vllm-platform:cluster"])
    cluster["gpuPool"] = {**cluster["gpuPool"], "autoscaler": {"min": 4, "max": 11}}
    run = run_program("production", overrides={"models": models, "cluster": cluster})
    model = _config().models[STREAMED]
    job = _k8s(run, "Job", stage_job_name(model))
    [server] = [
        r
        for r in run.kubernetes()
        if r.inputs.get("kind") in {"StatefulSet", "Deployment"}
        and r.inputs["metadata"]["labels"].get("app.kubernetes.io/name") == model.name
    ]
    assert job.urn in server.dependencies
    assert run.resources.index(job) < run.resources.index(server)
