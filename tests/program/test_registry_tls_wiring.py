"""Every registry client gets TLS settings its own driver accepts, for every stack.

Three consumers read ``registry.sslmode`` / ``registry.sslRootCert``: psycopg (libpq) in the
program and the dynamic providers, the postgresql provider (Go, lib/pq), and the health
reporter's psql (libpq in the cluster). libpq needs a root certificate source for verify-*
(a file, or ``system`` for verify-full); lib/pq takes a file path only and falls back to the
system roots (docs/provider-semantics.md).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from psycopg import conninfo

from components.config.registry import LIB_PQ_SSLMODES, PROJECT_DIR
from tests.support.harness import ProgramRun, committed_run, run_program, stack_file_config
from tests.support.stackfiles import ROOT, committed_stacks

pytestmark = pytest.mark.program

CA = "tests/fixtures/tls/registry-ca.pem"


def _example(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "examples" / f"Pulumi.{name}.yaml").read_text())["config"])


def _registry(stack: str, **changes: Any) -> dict[str, Any]:
    return {**stack_file_config(stack)["vllm-platform:registry"], **changes}


def _runs() -> list[tuple[str, ProgramRun]]:
    runs = [(s, committed_run(s)) for s in committed_stacks()]
    runs.append(("local", run_program("development", config=_example("local"))))
    ca = {"sslRootCert": CA}
    for mode in ("verify-ca", "verify-full", "require"):
        reg = _registry("production", sslmode=mode, **ca)
        runs.append(
            (f"production+{mode}+ca", run_program("production", overrides={"registry": reg}))
        )
    return runs


@pytest.fixture(scope="module")
def runs() -> list[tuple[str, ProgramRun]]:
    return _runs()


def _libpq_dsns(run: ProgramRun) -> list[dict[str, str]]:
    return [
        {k: str(v) for k, v in conninfo.conninfo_to_dict(r.inputs["connection"]).items()}
        for r in run.resources
        if r.typ.startswith("pulumi-python:dynamic") and "connection" in r.inputs
    ]


def _reporter_env(run: ProgramRun) -> dict[str, str]:
    crons = [r for r in run.kubernetes() if r.inputs.get("kind") == "CronJob"]
    env: dict[str, str] = {}
    for cron in crons:
        pod = cron.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        env |= {e["name"]: e.get("value") for c in pod["containers"] for e in c.get("env", [])}
    return env


def test_every_libpq_connection_that_verifies_has_a_root_certificate_source(
    runs: list[tuple[str, ProgramRun]],
) -> None:
    for name, run in runs:
        dsns = _libpq_dsns(run)
        assert dsns, name
        for dsn in dsns:
            root = dsn.get("sslrootcert")
            if dsn["sslmode"] == "verify-full":
                assert root == "system" or (PROJECT_DIR / str(root)).is_file(), (name, dsn)
            elif dsn["sslmode"] == "verify-ca":
                assert root and (PROJECT_DIR / root).is_file(), (name, dsn)
        env = _reporter_env(run)
        if env.get("PGSSLMODE", "").startswith("verify-"):
            assert env.get("PGSSLROOTCERT"), name


def test_the_postgresql_provider_gets_only_what_lib_pq_accepts(
    runs: list[tuple[str, ProgramRun]],
) -> None:
    for name, run in runs:
        for p in run.by_type("pulumi:providers:postgresql"):
            assert p.inputs["sslmode"] in LIB_PQ_SSLMODES, name
            root = p.inputs.get("sslrootcert")
            # lib/pq reads a file path; "system" would be read as a file name by v1.10.9.
            assert root is None or (PROJECT_DIR / root).is_file(), (name, root)


def test_a_configured_ca_reaches_every_consumer(runs: list[tuple[str, ProgramRun]]) -> None:
    pem = (PROJECT_DIR / CA).read_text()
    for name, run in runs:
        if not name.endswith("+ca"):
            continue
        assert {d.get("sslrootcert") for d in _libpq_dsns(run)} == {CA}, name
        (provider,) = run.by_type("pulumi:providers:postgresql")
        assert provider.inputs["sslrootcert"] == CA
        config_maps = [r for r in run.kubernetes() if r.inputs.get("kind") == "ConfigMap"]
        assert any((c.inputs.get("data") or {}).get("root.crt") == pem for c in config_maps)
