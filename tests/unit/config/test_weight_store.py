"""``weightStore.bucket``: the stack's Object Storage bucket label, which Linode requires to be
unique per region across every account (docs/provider-semantics.md, "Object Storage"): a
default that names the namespace, a key of the user's own, and Linode's label rule checked at
plan time instead of failing the bucket's create midway through ``pulumi up``."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import ConfigError, load_stack_config
from components.manifests.vllm.render import model_objects
from components.planning.capacity import plan_stack
from tests.support.stackfiles import raw_stack


def _streamed(**store: Any) -> dict[str, Any]:
    raw = raw_stack("production")
    raw["models"][0]["weightSource"] = {"kind": "objectStorage"}
    if store:
        raw["weightStore"] = store
    return raw


def _issue(raw: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(ConfigError) as info:
        load_stack_config(raw)
    (issue,) = info.value.issues
    return issue.path, issue.message


def _streamed_from(raw: dict[str, Any]) -> str:
    """The ``s3://`` bucket the streamed server's rendered arguments read."""
    cfg = load_stack_config(raw).config
    model = cfg.models[0]
    objects = model_objects(cfg, model, plan_stack(cfg).model(model.name))
    [server] = [o for o in objects if o["kind"] in ("StatefulSet", "Deployment")]
    source = server["spec"]["template"]["spec"]["containers"][0]["args"][0]
    assert source.startswith("s3://"), source
    return str(source.removeprefix("s3://").split("/", 1)[0])


def test_the_default_bucket_names_the_namespace() -> None:
    assert _streamed_from(_streamed()) == "vllm-platform-vllm-production-weights"


def test_a_bucket_of_the_users_own_is_what_the_servers_stream() -> None:
    assert _streamed_from(_streamed(bucket="acme-llm-weights-prod")) == "acme-llm-weights-prod"


@pytest.mark.parametrize(
    "label",
    [
        "",
        "ab",
        "a" * 64,
        "Acme-weights",
        "acme_weights",
        "acme.weights",
        "-acme",
        "acme-",
        "acme wts",
    ],
)
def test_a_bucket_label_linode_refuses_is_refused_at_its_key(label: str) -> None:
    path, message = _issue(_streamed(bucket=label))
    assert path == "weightStore.bucket"
    assert repr(label) in message and "3-63 characters" in message


def test_a_namespace_too_long_for_the_default_label_names_the_key_to_set() -> None:
    raw = _streamed()
    raw["namespace"] = "vllm-production-" + "x" * 30  # 46 characters: the label would be 68
    path, message = _issue(raw)
    assert path == "namespace"
    assert "set weightStore.bucket" in message
    raw["weightStore"] = {"bucket": "acme-weights"}
    assert load_stack_config(raw).config.bucket_label == "acme-weights"


def test_a_bucket_without_a_streamed_model_is_refused() -> None:
    raw = raw_stack("production")
    raw["weightStore"] = {"bucket": "acme-weights"}
    path, message = _issue(raw)
    assert path == "weightStore.bucket"
    assert "no model streams its weights" in message


def test_another_environments_bucket_is_refused() -> None:
    raw = raw_stack("staging")
    raw["models"][0]["weightSource"] = {"kind": "objectStorage"}
    raw["cluster"] = raw_stack("development")["cluster"]  # objectStorage needs mode create
    raw["weightStore"] = {"bucket": "vllm-platform-vllm-production-weights"}
    path, message = _issue(raw)
    assert path == "weightStore.bucket"
    assert "names the environment 'production'" in message
    raw["weightStore"] = {"bucket": "acme-weights-staging"}
    assert load_stack_config(raw).config.bucket_label == "acme-weights-staging"
