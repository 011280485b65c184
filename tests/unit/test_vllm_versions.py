"""Each model is judged by its image's vLLM version: every contract version's options are
classified, its metric names cover the platform's PromQL, version-specific settings follow the
version, and a version without a contract or with a known critical/high advisory stays out of
staging and production.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from components.config import ConfigError
from components.config.images import CURL_IMAGE, DEVICE_PLUGIN_IMAGE, PAUSE_IMAGE, PSQL_IMAGE
from components.config.source import load_from_stack_file
from components.config.vllm_args import MANAGED_DESTS, REFUSED_DESTS, extra_args_issue
from components.config.vllm_dests import ALLOWED_DESTS, REMOVED_DESTS, REVIEWED_FOR
from components.config.vllm_image import image_cautions, image_issue
from components.manifests.vllm.args import server_env
from components.manifests.vllm.render import model_objects
from components.vllm_advisories import ADVISORIES_FILE, advisories, affecting
from components.vllm_contract import (
    DATA_DIR,
    VllmContract,
    VllmOption,
    available_versions,
    image_version,
    load_contract,
)
from tests.live.environment import LIVE_STACK, STREAM_STACK, live_version
from tests.unit.manifests.vllm.support import stack
from tests.unit.manifests.vllm.test_observability import (
    PROMETHEUS_SERIES,
    expressions,
    metric_names,
)

VERSIONS = available_versions()
GUARDED = MANAGED_DESTS.keys() | REFUSED_DESTS.keys()


def dests(version: str) -> set[str]:
    return {o.dest for o in load_contract(version).options}


# ------------------------------------------------------------------------ classification


def test_every_contract_version_was_reviewed() -> None:
    assert tuple(VERSIONS) == REVIEWED_FOR


@pytest.mark.parametrize("version", VERSIONS)
def test_every_option_of_every_version_is_managed_refused_or_reviewed(version: str) -> None:
    """A new flag nobody classified (it might serve gRPC, open a port, add an unguarded
    endpoint) fails here; vllm_args refuses it at run time until it is classified."""
    unclassified = dests(version) - GUARDED - ALLOWED_DESTS
    assert not unclassified, f"classify in vllm_args.py or reviewed-dests.json: {unclassified}"


def test_no_dest_is_both_allowed_and_guarded() -> None:
    assert not ALLOWED_DESTS & GUARDED
    assert not MANAGED_DESTS.keys() & REFUSED_DESTS.keys()


@pytest.mark.parametrize("dest", sorted(GUARDED - {"model_tag"}))
def test_every_guarded_dest_exists_in_some_version(dest: str) -> None:
    """A misspelt dest would silently guard nothing."""
    assert any(dest in dests(v) for v in VERSIONS)


@pytest.mark.parametrize(("older", "newer"), list(itertools.pairwise(VERSIONS)))
def test_a_guarded_dest_that_disappears_is_acknowledged(older: str, newer: str) -> None:
    gone = (dests(older) - dests(newer)) & GUARDED
    acknowledged = {d for d, r in REMOVED_DESTS.items() if r["since"] == newer}
    assert gone == acknowledged


@pytest.mark.parametrize(
    "flag",
    ["--grpc", "--grpc-port=9", "--ssl-ciphers=X", "--tokens-only", "--enable-fault-tolerance"],
)
def test_the_new_flags_that_bypass_the_platform_are_refused_in_0_32(flag: str) -> None:
    found = extra_args_issue([flag], load_contract("v0.32.0"))
    assert found is not None and "is refused" in found[1]


def test_a_flag_without_a_review_is_refused() -> None:
    contract = load_contract("v0.32.0")
    assert extra_args_issue(["--enable-prefix-caching"], contract) is None
    newer = VllmContract(
        "v9.9.9",
        (*contract.options, VllmOption("serve_carrier_pigeons", ("--carrier-pigeons",), 0, False)),
        contract.allow_abbrev,
        {},
    )
    found = extra_args_issue(["--carrier-pigeons"], newer)
    assert found is not None and "not reviewed" in found[1]


@pytest.mark.parametrize(
    ("args", "ok"),
    [
        (["--compilation-config.level", "3"], False),  # `level` became `mode` in 0.32
        (["--compilation-config.mode", "3"], True),
        (["--compilation-config", '{"level": 3}'], False),
        (['--compilation-config={"mode": 3}'], True),
    ],
)
def test_json_keys_are_the_config_class_keys_of_the_version(args: list[str], ok: bool) -> None:
    """vLLM validates these into a dataclass and exits on an unknown key (the recorded probe
    dotted_json_arg: ``--compilation-config.level 3`` is an error in 0.32.0)."""
    assert not load_contract("v0.32.0").probes["dotted_json_arg"]["ok"]
    found = extra_args_issue(args, load_contract("v0.32.0"))
    assert (found is None) == ok, found


# ------------------------------------------------------------------------ metrics and routes


def _series(version: str) -> set[str]:
    data = json.loads((DATA_DIR / version / "metrics.json").read_text(encoding="utf-8"))
    return set(data["scraped"]["variants"]["default"]["series"])


@pytest.mark.parametrize("version", VERSIONS)
def test_every_metric_the_platform_queries_is_exported_by_each_version(version: str) -> None:
    """The alerts, KEDA trigger and dashboard of a model on this version's image."""
    cfg, m, plan = stack("Pulumi.development.yaml", image=f"vllm/vllm-openai:{version}")
    names: set[str] = set()
    for _, expr in expressions(model_objects(cfg, m, plan)):
        names |= metric_names(expr)
    assert names, "no PromQL rendered"
    assert names - PROMETHEUS_SERIES <= _series(version), names - _series(version)


@pytest.mark.parametrize("version", VERSIONS)
def test_the_api_key_guards_the_v1_routes_in_every_version(version: str) -> None:
    data = json.loads((DATA_DIR / version / "routes.json").read_text(encoding="utf-8"))
    for row in data["routes"]:
        if row["path"].startswith("/v1/"):
            assert row["guarded_by_api_key"], row


# ------------------------------------------------------------------------ CPU threads


LOCAL = "examples/Pulumi.local.yaml"  # the CPU example


def _env(image: str, **resources: str) -> dict[str, Any]:
    _, m, _ = stack(LOCAL, image=image, resources={"memory": "6Gi", **resources})
    return {e["name"]: e.get("value") for e in server_env(m)}


@pytest.mark.parametrize(
    ("image", "bind"),
    [
        # 0.11.0 hands anything but auto/all to init_cpu_threads_env, which crashes on
        # "nobind" (vllm/v1/worker/cpu_worker.py:38-66 at v0.11.0).
        ("vllm/vllm-openai-cpu:v0.11.0", "all"),
        ("vllm/vllm-openai-cpu:v0.32.0", "nobind"),
    ],
)
def test_thread_binding_is_spelled_for_the_images_version(image: str, bind: str) -> None:
    assert _env(image)["VLLM_CPU_OMP_THREADS_BIND"] == bind


@pytest.mark.parametrize(("cpu", "threads"), [("2", "2"), ("500m", "1"), ("2500m", "2")])
def test_openmp_threads_follow_the_cpu_request(cpu: str, threads: str) -> None:
    assert _env("vllm/vllm-openai-cpu:v0.32.0", cpu=cpu)["OMP_NUM_THREADS"] == threads


def test_openmp_threads_follow_the_default_cpu_request() -> None:
    cfg, m, plan = stack(LOCAL, resources={"memory": "12Gi"})
    workload = next(
        o for o in model_objects(cfg, m, plan) if o["kind"] in ("Deployment", "StatefulSet")
    )
    server = workload["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in server["env"]}
    assert env["OMP_NUM_THREADS"] == server["resources"]["requests"]["cpu"]


# ------------------------------------------------------------------------ the security floor


@pytest.mark.parametrize("image", [CURL_IMAGE, PSQL_IMAGE, DEVICE_PLUGIN_IMAGE, PAUSE_IMAGE])
def test_the_stock_images_keep_their_digests(image: str) -> None:
    """checkov's digest check (CKV_K8S_43) is skipped for the tag-pinned vLLM image only."""
    assert re.search(r":[^/@]+@sha256:[0-9a-f]{64}$", image), image


def test_the_advisory_data_is_complete() -> None:
    data = json.loads(ADVISORIES_FILE.read_text(encoding="utf-8"))
    ids = [a["id"] for a in data["advisories"]]
    assert "GHSA-94f4-hr76-p5j6" in ids and len(ids) == len(set(ids))
    for a in advisories():
        assert re.fullmatch(r"GHSA(-[23456789cfghjmpqrvwx]{4}){3}", a.id), a.id
        assert a.severity in ("critical", "high", "moderate", "low"), a
        assert a.source.startswith("https://github.com/advisories/" + a.id), a
        assert a.affects(a.introduced) and not a.affects(a.fixed), a


def test_the_default_version_has_no_blocking_advisory() -> None:
    assert not [a for a in affecting("v0.32.0") if a.blocking]
    assert {a.id for a in affecting("v0.11.0") if a.blocking} >= {"GHSA-94f4-hr76-p5j6"}


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_staging_and_production_refuse_a_version_with_a_critical_advisory(
    environment: str,
) -> None:
    issue = image_issue("vllm/vllm-openai:v0.11.0", environment)
    assert issue is not None
    assert "GHSA-94f4-hr76-p5j6 (critical, fixed in 0.22.0)" in issue
    assert "move to vLLM 0.22.0 or later" in issue


def test_production_names_the_model_and_the_fixed_version() -> None:
    with pytest.raises(ConfigError) as err:
        stack(image="vllm/vllm-openai:v0.11.0")
    assert "models[0].image" in str(err.value) and "0.22.0" in str(err.value)


@pytest.mark.parametrize(
    "image", ["vllm/vllm-openai:v0.10.1", "vllm/vllm-openai@sha256:" + "a" * 64]
)
def test_production_refuses_an_image_without_a_contract(image: str) -> None:
    with pytest.raises(ConfigError) as err:
        stack(image=image)
    assert "no vLLM flag contract" in str(err.value)


def test_development_accepts_them_with_cautions() -> None:
    cfg, _, _ = stack("Pulumi.development.yaml", image="vllm/vllm-openai:v0.11.0")
    cautions = image_cautions([m.image for m in cfg.models], cfg.environment)
    assert any("GHSA-94f4-hr76-p5j6" in c and c.startswith("models[0].image") for c in cautions)
    assert image_issue("vllm/vllm-openai:v0.11.0", "development") is None
    unknown = image_cautions(["vllm/vllm-openai:v0.10.1"], "development")
    assert unknown and "no vLLM flag contract" in unknown[0]


def test_a_moderate_advisory_is_a_caution_everywhere() -> None:
    """The unbounded-n denial of service (moderate) is shown in production too; the critical
    and high ones are errors there, not cautions."""
    cautions = image_cautions(["vllm/vllm-openai:v0.11.0"], "production")
    assert any("GHSA-3mwp-wvh9-7528" in c for c in cautions)
    assert not any("GHSA-94f4-hr76-p5j6" in c for c in cautions)


@pytest.mark.parametrize("path", [LIVE_STACK, STREAM_STACK], ids=lambda p: p.name)
def test_the_live_tier_runs_the_version_production_runs(path: Path) -> None:
    """The live tier installs vllm-cpu of its stack's image version (tests/live); its streamed
    model's stack serves with the same install."""
    live = load_from_stack_file(path).config
    production = {image_version(m.image) for m in stack()[0].models}
    assert production == {image_version(m.image) for m in live.models}
    assert {m.accelerator for m in live.models} == {"cpu"}
    assert f"v{live_version()}" in production
