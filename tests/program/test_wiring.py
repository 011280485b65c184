"""The whole program under mocks: models, registry, health reporter, outputs, secrets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.planning.release import ROLLBACK_ENV
from tests.support.harness import (
    TEST_SECRETS,
    ProgramRun,
    Registered,
    committed_run,
    run_program,
)
from tests.support.stackfiles import STACKS

pytestmark = pytest.mark.program

ENTRY = "pulumi-python:dynamic/registry:RegistryEntry"
SCHEMA = "pulumi-python:dynamic/registry:RegistrySchema"
JOB = "kubernetes:batch/v1:Job"


def _paths(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _paths(v, f"{prefix}.{k}" if prefix else k)]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _paths(v, f"{prefix}[{i}]")]
    return [(prefix, value)]


def _entries(run: ProgramRun) -> dict[str, Registered]:
    return {r.inputs["model_name"]: r for r in run.by_type(ENTRY)}


@pytest.mark.parametrize("stack", STACKS)
def test_each_model_is_registered_only_after_its_smoke_test(stack: str) -> None:
    run = committed_run(stack)
    entries = _entries(run)
    assert set(entries) == set(run.outputs["endpoints"])
    jobs = {r.inputs["metadata"]["labels"]["app.kubernetes.io/name"]: r for r in run.by_type(JOB)}
    for model, entry in entries.items():
        assert jobs[model].urn in entry.property_dependencies["endpoint_url"]
        assert entry.inputs["endpoint_url"] == run.outputs["endpoints"][model]
        assert entry.inputs["environment"] == stack
        assert entry.inputs["change_kind"] == "deploy"


def test_registry_entries_connect_as_the_writer_role_after_its_grants() -> None:
    run = committed_run("production")
    schema = run.one(SCHEMA)
    grants = {r.urn for r in run.by_type("postgresql:index/grant:Grant") if "-writer-" in r.name}
    assert len(grants) == 4
    [binding] = run.by_type("pulumi-python:dynamic/registry:RegistryWriterBinding")
    for entry in _entries(run).values():
        assert "connection" in entry.secret_inputs
        assert "vllm_registry_writer" in entry.inputs["connection"]
        assert grants <= set(entry.property_dependencies["connection"])
        assert binding.urn in entry.property_dependencies["connection"]
    assert "connection" in schema.secret_inputs


def test_unmanaged_roles_register_as_the_owner_after_the_schema() -> None:
    from tests.support.harness import stack_file_config

    registry = dict(stack_file_config("production")["vllm-platform:registry"], manageRoles=False)
    run = run_program("production", overrides={"registry": registry})
    assert not run.by_type("postgresql:index/role:Role")
    schema = run.one(SCHEMA)
    for entry in _entries(run).values():
        assert "registry_owner" in entry.inputs["connection"]
        assert schema.urn in entry.property_dependencies["connection"]


def test_rollback_runs_record_rolled_back_with_the_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ROLLBACK_ENV, "7")
    run = run_program("staging")
    for entry in _entries(run).values():
        assert entry.inputs["change_kind"] == "rollback"
        assert entry.inputs["note"] == "rollback to stack version 7"


@pytest.mark.parametrize("stack", STACKS)
def test_release_record_names_every_model_image_and_the_config_digest(stack: str) -> None:
    run = committed_run(stack)
    release = run.outputs["release"]
    assert release["environment"] == stack
    assert release["configDigest"].startswith("sha256:")
    assert set(release["models"]) == set(run.outputs["endpoints"])
    for model, info in release["models"].items():
        assert info["endpoint"] == run.outputs["endpoints"][model]


@pytest.mark.parametrize("stack", STACKS)
def test_secret_values_appear_only_as_secret_inputs_and_never_in_plain_outputs(stack: str) -> None:
    run = committed_run(stack)
    planted = set(TEST_SECRETS.values())
    for r in run.resources:
        for path, value in _paths(r.inputs):
            if isinstance(value, str) and any(s in value for s in planted):
                assert any(path == p or path.startswith(p + ".") for p in r.secret_inputs), (
                    f"{r.typ} {r.name}: {path} carries a secret value in plain text"
                )
    plain = {k: v for k, v in run.outputs.items() if k not in run.secret_outputs}
    dumped = json.dumps(plain)
    assert not any(s in dumped for s in planted)


@pytest.mark.parametrize("stack", STACKS)
def test_health_reporter_runs_in_the_namespace_with_the_clusters_provider(stack: str) -> None:
    run = committed_run(stack)
    cron = run.one("kubernetes:batch/v1:CronJob")
    namespace = run.outputs["namespace"]
    assert cron.inputs["metadata"]["namespace"] == namespace
    provider = run.one("pulumi:providers:kubernetes")
    assert cron.provider.startswith(provider.urn)


def test_health_reporter_can_be_switched_off() -> None:
    run = run_program("development", overrides={"healthReporter": {"enabled": False}})
    assert not run.by_type("kubernetes:batch/v1:CronJob")


def test_bad_health_reporter_settings_fail_with_the_key() -> None:
    import pulumi

    with pytest.raises(pulumi.RunError, match=r"healthReporter\.schedule"):
        run_program("development", overrides={"healthReporter": {"schedule": "every minute"}})


@pytest.mark.parametrize("stack", STACKS)
def test_models_wait_for_the_gpu_device_plugin_when_the_stack_installs_it(stack: str) -> None:
    run = committed_run(stack)
    plugin = [r for r in run.by_type("kubernetes:apps/v1:DaemonSet") if "GpuCluster" in r.urn]
    for dep in run.by_type("vllm-platform:serving:VllmDeployment"):
        for p in plugin:
            assert p.urn in dep.dependencies


def test_dynamic_resources_leave_the_pickler_as_they_found_it() -> None:
    """pulumi's serialize_provider stacks a pickler patch per dynamic resource (quadratic cost,
    RecursionError past ~970 resources); the registry resources undo it after each one."""
    from components.resources.dynamic import pickler_is_pristine

    run = run_program("production")
    run = run_program("production")  # twice: 8 dynamic resources serialized in this process
    assert pickler_is_pristine()
    providers = {r.inputs["__provider"] for r in run.by_type(ENTRY)}
    assert len(providers) == 1  # the same provider pickles to the same bytes every time


def test_health_reporter_waits_for_the_writer_grants_before_it_can_run() -> None:
    run = committed_run("production")
    secret = run.one("kubernetes:core/v1:Secret", "health-reporter-secret-registry")
    writer_grants = {
        r.urn for r in run.by_type("postgresql:index/grant:Grant") if "-writer-" in r.name
    }
    assert writer_grants <= set(secret.dependencies)
