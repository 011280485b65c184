"""components/manifests/vllm/streamer.py: the staging Job and a streamed server's flags."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from components.config import ConfigError
from components.config.vllm_args import MANAGED_DESTS
from components.manifests.toolkit import (
    HF_TOKEN_SECRET,
    WEIGHTS_SECRET,
    WEIGHTS_SECRET_ENDPOINT_KEY,
    read_asset,
)
from components.manifests.vllm.streamer import (
    s3_endpoint_url,
    stage_job,
    stage_job_name,
    streamer_args,
    streamer_env,
)
from components.resources.registration import CUSTOM_RESOURCE_GROUPS
from components.vllm_contract import load_contract
from tests.unit.manifests.vllm.support import (
    MODEL,
    STREAM_BUCKET,
    stack,
    stage_objects,
)

S3 = {"kind": "objectStorage", "concurrency": 24}
# The endpoint is the bucket's s3_endpoint output, read from the Secret (docs/provider-semantics.md,
# "Object Storage"): never a value, optional never (a pod without it would talk to AWS).
ENDPOINT_ENV = {
    "name": "AWS_ENDPOINT_URL",
    "valueFrom": {"secretKeyRef": {"name": WEIGHTS_SECRET, "key": WEIGHTS_SECRET_ENDPOINT_KEY}},
}


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container["env"]}


def test_the_staging_objects_validate_strictly() -> None:
    cfg, _, _ = stack(model=MODEL)
    for obj in stage_objects():
        if obj["apiVersion"].startswith(CUSTOM_RESOURCE_GROUPS):
            continue  # no schema offline (their CRDs)
        kubernetes_validate.validate(
            obj, desired_version=f"{cfg.cluster.k8s_version}.0", strict=True
        )


def test_the_job_copies_the_pinned_revision_with_every_credential_by_reference() -> None:
    cfg, m, _ = stack(model=MODEL, weightSource=S3)
    job = stage_job(cfg, m, STREAM_BUCKET)
    [container] = job["spec"]["template"]["spec"]["containers"]
    env = _env(container)
    assert env["MODEL_REVISION"]["value"] == m.revision and len(m.revision) == 40
    assert env["WEIGHTS_PREFIX"]["value"] == f"{m.hf_model_id}/{m.revision}"
    assert env["WEIGHTS_BUCKET"]["value"] == STREAM_BUCKET
    assert env["AWS_ENDPOINT_URL"] == ENDPOINT_ENV
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == WEIGHTS_SECRET
        assert "value" not in env[name]
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == HF_TOKEN_SECRET
    assert container["command"] == ["python3", "-c", read_asset("stage_weights.py")]


def test_the_job_name_is_fixed_per_model_and_revision() -> None:
    _, m, _ = stack(model=MODEL, weightSource=S3)
    other = m.model_copy(update={"revision": "f" * 40})
    assert stage_job_name(m) == stage_job_name(m.model_copy())
    assert stage_job_name(m) != stage_job_name(other)
    assert len(stage_job_name(m)) <= 63


@pytest.mark.parametrize("gated", [True, False])
def test_the_token_is_required_exactly_for_a_gated_model(gated: bool) -> None:
    cfg, m, _ = stack(model=MODEL, weightSource=S3, gated=gated)
    job = stage_job(cfg, m, STREAM_BUCKET)
    [container] = job["spec"]["template"]["spec"]["containers"]
    ref = _env(container)["HF_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert ref.get("optional", False) is not gated


def test_the_server_streams_the_bucket_copy_with_vllms_own_flags() -> None:
    _, m, _ = stack(model=MODEL, weightSource=S3)
    args = streamer_args(m, STREAM_BUCKET)
    assert args[0] == f"s3://{STREAM_BUCKET}/{m.hf_model_id}/{m.revision}/"
    assert "--revision" not in args
    at = args.index("--load-format")
    assert args[at + 1] == "runai_streamer"
    contract = load_contract("v0.32.0")
    option = contract.resolve("--load-format").option
    assert option is not None and option.dest == "load_format"
    assert option.choices is None or "runai_streamer" in option.choices
    assert args[len(args) - len(m.extra_args) :] == m.extra_args
    managed = args[1 : len(args) - len(m.extra_args)]
    for token in (t for t in managed if t.startswith("-") and t != "--load-format"):
        resolved = contract.resolve(token).option
        assert resolved is not None and resolved.dest in MANAGED_DESTS, token


def test_the_streamer_env_carries_the_plans_concurrency_and_no_plain_credential() -> None:
    _, m, _ = stack(model=MODEL, weightSource=S3)
    env = {e["name"]: e for e in streamer_env(m)}
    assert env["RUNAI_STREAMER_CONCURRENCY"]["value"] == "24"
    assert env["RUNAI_STREAMER_S3_USE_VIRTUAL_ADDRESSING"]["value"] == "0"
    secret_refs = {n for n, e in env.items() if "valueFrom" in e}
    assert secret_refs == {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert env["AWS_ENDPOINT_URL"] == ENDPOINT_ENV


@pytest.mark.parametrize(
    ("returned", "url"),
    [
        ("us-ord-10.linodeobjects.com", "https://us-ord-10.linodeobjects.com"),  # E2/E3
        ("us-east-1.linodeobjects.com", "https://us-east-1.linodeobjects.com"),  # E0/E1
        ("https://us-ord-10.linodeobjects.com", "https://us-ord-10.linodeobjects.com"),
    ],
)
def test_the_endpoint_url_is_the_buckets_s3_endpoint_over_https(returned: str, url: str) -> None:
    assert s3_endpoint_url(returned) == url


@pytest.mark.parametrize(
    "returned",
    [None, "", "  ", "http://us-ord-10.linodeobjects.com", "us-ord-10.linodeobjects.com/b"],
)
def test_a_missing_or_malformed_s3_endpoint_is_refused_never_https_alone(
    returned: str | None,
) -> None:
    with pytest.raises(ValueError, match="ObjectStorageBucket s3_endpoint") as info:
        s3_endpoint_url(returned)
    assert f"the provider returned {returned!r}" in str(info.value)


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"extraArgs": ["--load-format", "safetensors"]}, "extraArgs --load-format would read"),
        ({"extraArgs": ["--tokenizer", "org/other"]}, "extraArgs --tokenizer would read"),
    ],
)
def test_a_streamed_model_refuses_flags_that_read_anything_but_the_staged_revision(
    overrides: dict[str, Any], says: str
) -> None:
    with pytest.raises(ConfigError) as info:
        stack(model=MODEL, environment="development", weightSource=S3, **overrides)
    (issue,) = [str(i) for i in info.value.issues]
    assert issue.startswith(f"models[{MODEL}].weightSource.kind: objectStorage streams")
    assert says in issue
    stack(model=MODEL, environment="development", **overrides)  # the Hub path takes them


def test_a_streamed_model_stages_before_its_server_which_fetches_nothing() -> None:
    from components.manifests.vllm.streamer import bucket_label, weights_uri

    cfg, m, _ = stack(model=MODEL, weightSource=S3)
    objects = stage_objects()
    names = [(o["kind"], o["metadata"]["name"]) for o in objects]
    job_at = names.index(("Job", stage_job_name(m)))
    [server_at] = [i for i, (kind, _) in enumerate(names) if kind == "StatefulSet"]
    assert names[job_at - 1] == ("NetworkPolicy", f"{m.name}-stage")
    assert job_at < server_at
    pod = objects[server_at]["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["allowlist"]
    [vllm] = pod["containers"]
    assert vllm["args"][0] == weights_uri(m, bucket_label(cfg))
    [stage] = objects[job_at]["spec"]["template"]["spec"]["containers"]
    assert _env(vllm)["AWS_ENDPOINT_URL"] == _env(stage)["AWS_ENDPOINT_URL"] == ENDPOINT_ENV
    assert "linodeobjects.com" not in repr(objects)  # no derived host anywhere
    assert objects[job_at]["spec"]["activeDeadlineSeconds"] >= 600


def test_a_hub_model_gets_no_staging_and_keeps_its_fetch() -> None:
    from components.manifests.vllm.render import model_objects

    cfg, m, plan = stack(model=MODEL)
    objects = model_objects(cfg, m, plan)
    assert not [o for o in objects if "-stage" in o["metadata"]["name"]]
    [server] = [o for o in objects if o["kind"] == "StatefulSet"]
    inits = [c["name"] for c in server["spec"]["template"]["spec"]["initContainers"]]
    assert "fetch-weights" in inits
