"""``weightSource.kind: objectStorage`` as the program registers it (#27 item 2): the bucket and
its limited key, the bucket's own provider (a delete empties it), the Secret of the key and the
bucket's endpoint, the staging Job before the server, the streamed server."""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import re
from functools import cache
from typing import Any

import pulumi
import pulumi_linode as linode
import pytest

from components.config import StackConfig
from components.config.source import load_from_stack_file
from components.manifests.toolkit import (
    WEIGHTS_SECRET,
    WEIGHTS_SECRET_ACCESS_KEY,
    WEIGHTS_SECRET_ENDPOINT_KEY,
    WEIGHTS_SECRET_SECRET_KEY,
)
from components.manifests.vllm.streamer import (
    LOAD_FORMAT,
    bucket_label,
    stage_job_name,
    weights_uri,
)
from tests.support import harness
from tests.support.harness import (
    TEST_SECRETS,
    ProgramRun,
    Registered,
    fake_s3_endpoint,
    run_program,
    stack_file_config,
)
from tests.support.stackfiles import ROOT

pytestmark = pytest.mark.program

BUCKET = "linode:index/objectStorageBucket:ObjectStorageBucket"
KEY = "linode:index/objectStorageKey:ObjectStorageKey"
LINODE_PROVIDER = "pulumi:providers:linode"
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


def _provider_of(run: ProgramRun, resource: Registered) -> Registered:
    urn, _, _ = resource.provider.rpartition("::")
    return run.by_urn(urn)


def test_the_bucket_alone_has_a_provider_that_empties_it_before_deleting_it() -> None:
    """Without ``objBucketForceDelete`` Linode refuses to delete the filled bucket: a destroy,
    or the last streamed model switched back to ``hub``, would fail at the bucket on every
    ``up`` (docs/provider-semantics.md, "Object Storage")."""
    run = _streamed_run()
    bucket = run.one(BUCKET)
    assert bucket.provider, "the bucket uses the default provider, which never empties it"
    provider = _provider_of(run, bucket)
    assert provider.typ == LINODE_PROVIDER
    assert json.loads(provider.inputs["objBucketForceDelete"]) is True
    assert json.loads(provider.inputs["objUseTempKeys"]) is True
    # No token of its own: like the default provider, it reads LINODE_TOKEN.
    assert "token" not in provider.inputs
    users = [r.urn for r in run.resources if r.provider.startswith(f"{provider.urn}::")]
    assert users == [bucket.urn]
    # The cluster, its pool and the key keep the default provider.
    others = [r for r in run.resources if r.typ.startswith("linode:") and r is not bucket]
    assert {r.typ for r in others} >= {KEY, "linode:index/lkeCluster:LkeCluster"}
    assert all(not r.provider for r in others)


def _stack_linode_config() -> tuple[dict[str, str], dict[str, str]]:
    """A value for every setting of pulumi-linode's provider but the two the bucket's provider
    fixes, as the engine hands them over (strings), split into plain and secret keys."""
    plain: dict[str, str] = {}
    secret: dict[str, str] = {}
    for name, param in inspect.signature(linode.ProviderArgs.__init__).parameters.items():
        if name in {"__self__", "obj_bucket_force_delete", "obj_use_temp_keys"}:
            continue
        key = "linode:" + re.sub(r"_(.)", lambda m: m.group(1).upper(), name)
        kind = str(param.annotation)
        value = "true" if "bool]" in kind else "7" if "int]" in kind else f"{name}-0123456789"
        (secret if re.search("token|secret", name) else plain)[key] = value
    return plain, secret


def test_every_linode_key_of_the_stack_reaches_the_buckets_provider() -> None:
    """The engine gives the stack's ``linode:`` config to the default provider only
    (pulumi/pulumi default_providers.go:143): the bucket's provider gets it as arguments, so
    it talks to the same API with the same token (``linode:token``, secret) as the cluster."""
    plain, secret = _stack_linode_config()
    assert {"linode:token", "linode:url", "linode:skipImplicitReboots"} <= {*plain, *secret}
    run = run_program(
        "production",
        overrides={"models": _models(), **plain},
        secrets={**TEST_SECRETS, **secret},
    )
    provider = _provider_of(run, run.one(BUCKET))
    # As the engine would pass them on: text as is, bools and ints as JSON.
    given = {f"linode:{k}": v for k, v in provider.inputs.items()}
    assert {k: given.get(k) for k in {**plain, **secret}} == {**plain, **secret}
    assert {"token", "objSecretKey"} <= set(provider.secret_inputs)
    assert json.loads(provider.inputs["objBucketForceDelete"]) is True
    assert secret["linode:token"] not in repr(run.outputs)


def test_a_linode_key_the_stack_keeps_secret_stays_secret_in_the_buckets_provider() -> None:
    """The engine keeps a secret ``linode:`` value secret in the default provider's inputs
    (pulumi/pulumi pkg/resource/deploy/target.go ``GetPackageConfig``): the bucket's provider
    must not write one in plain text to the state, whichever setting it is (an
    ``objAccessKey`` or a ``url`` with credentials set with ``pulumi config set --secret``)."""
    plain, secret = _stack_linode_config()
    run = run_program(
        "production",
        overrides={"models": _models()},
        secrets={**TEST_SECRETS, **plain, **secret},
    )
    provider = _provider_of(run, run.one(BUCKET))
    given = {f"linode:{k}" for k in provider.inputs}
    assert {*plain, *secret} <= given
    stored = {f"linode:{k}" for k in provider.secret_inputs}
    assert sorted({*plain, *secret} - stored) == []


def test_the_secret_is_made_from_the_keys_and_the_buckets_outputs_as_secrets() -> None:
    run = _streamed_run()
    secret = _k8s(run, "Secret", WEIGHTS_SECRET)
    bucket = run.one(BUCKET)
    # The bucket's own s3_endpoint (an E2 host here), not <region>-1.linodeobjects.com.
    assert bucket.outputs["s3Endpoint"] == fake_s3_endpoint(_config().cluster.region or "")
    assert secret.inputs["stringData"] == {
        WEIGHTS_SECRET_ACCESS_KEY: "FAKEACCESSKEY",
        WEIGHTS_SECRET_SECRET_KEY: "fake-secret-key",
        WEIGHTS_SECRET_ENDPOINT_KEY: f"https://{bucket.outputs['s3Endpoint']}",
    }
    assert "stringData" in secret.secret_inputs
    assert run.one(KEY).urn in secret.dependencies
    assert bucket.urn in secret.dependencies
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
    ref = env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": WEIGHTS_SECRET, "key": WEIGHTS_SECRET_SECRET_KEY}


def _s3_env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e for e in container["env"] if e["name"].startswith("AWS_")}


def test_both_containers_take_the_endpoint_from_the_secret_and_name_no_host() -> None:
    run = _streamed_run()
    model = _config().models[STREAMED]
    secret = _k8s(run, "Secret", WEIGHTS_SECRET)
    assert WEIGHTS_SECRET_ENDPOINT_KEY in secret.inputs["stringData"]
    [stage] = _k8s(run, "Job", stage_job_name(model)).inputs["spec"]["template"]["spec"][
        "containers"
    ]
    (server,) = [
        r
        for r in run.kubernetes()
        if r.inputs.get("kind") in {"StatefulSet", "Deployment"}
        and r.inputs["metadata"]["labels"].get("app.kubernetes.io/name") == model.name
    ]
    [vllm] = [
        c for c in server.inputs["spec"]["template"]["spec"]["containers"] if c["name"] == "vllm"
    ]
    for container in (stage, vllm):
        env = _s3_env(container)
        assert env["AWS_ENDPOINT_URL"] == {
            "name": "AWS_ENDPOINT_URL",
            "valueFrom": {
                "secretKeyRef": {"name": WEIGHTS_SECRET, "key": WEIGHTS_SECRET_ENDPOINT_KEY}
            },
        }
    objects = repr([r.inputs for r in run.kubernetes() if r.inputs.get("kind") != "Secret"])
    assert "linodeobjects.com" not in objects


@pytest.mark.parametrize("returned", [None, "", "http://us-ord-10.linodeobjects.com"])
def test_a_bucket_without_a_usable_s3_endpoint_fails_the_update_naming_it(
    monkeypatch: pytest.MonkeyPatch, returned: str | None
) -> None:
    real = harness._outputs_for

    def outputs(args: Any) -> tuple[str, dict[str, Any]]:
        ident, outs = real(args)
        if args.typ == BUCKET:
            outs = {k: v for k, v in outs.items() if k != "s3Endpoint"}
            if returned is not None:
                outs["s3Endpoint"] = returned
        return ident, outs

    monkeypatch.setattr(harness, "_outputs_for", outputs)
    with pytest.raises(pulumi.RunError) as info:
        run_program("production", overrides={"models": _models()})
    label = bucket_label(_config())
    assert str(info.value).startswith(f"bucket {label}: ObjectStorageBucket s3_endpoint: ")
    assert f"the provider returned {returned!r}" in str(info.value)
    # Every registration waiting on the endpoint failed with that error; only one is reported.
    # The failed run's loop drops the rest instead of "Future exception was never retrieved"
    # at exit, whenever they are collected.
    asyncio.get_event_loop_policy().get_event_loop().set_exception_handler(lambda *_: None)


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
