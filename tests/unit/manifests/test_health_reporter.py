"""Health reporter builders: valid, restricted, labelled manifests that carry no secret value."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic.alias_generators import to_camel

from components.config import ConfigError, StackConfig, image_is_pinned, load_stack_config
from components.config.source import load_from_stack_file
from components.manifests.health_reporter import (
    COMPONENT,
    CONFIG_DIR,
    health_reporter_objects,
    health_url,
)
from components.manifests.stack import stack_objects
from components.manifests.toolkit import (
    Manifest,
    container_security_context,
    pod_security_context,
    read_asset,
    standard_labels,
)
from components.manifests.vllm.names import selector_labels
from components.manifests.vllm.network import server_network_policy
from components.planning.capacity import plan_stack
from tests.support.stackfiles import (
    ROOT,
    committed_stack_files,
    raw_stack,
    with_reporter,
)

STACK_FILES = committed_stack_files()
K8S_VERSION = "1.33.0"


def _cfg(stack: str = "staging") -> StackConfig:
    return load_from_stack_file(ROOT / f"Pulumi.{stack}.yaml").config


def _objects(cfg: StackConfig | None = None, **settings: Any) -> dict[str, Manifest]:
    objs = health_reporter_objects(with_reporter(cfg or _cfg(), **settings))
    return {o["kind"]: o for o in objs}


def _pod(objs: dict[str, Manifest]) -> Manifest:
    spec: Manifest = objs["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


def _containers(objs: dict[str, Manifest]) -> list[Manifest]:
    pod = _pod(objs)
    return [*pod["initContainers"], *pod["containers"]]


def _env(container: Manifest) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"]}


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_every_object_of_every_stack_validates_strictly(path: Path) -> None:
    objs = health_reporter_objects(load_from_stack_file(path).config)
    assert [o["kind"] for o in objs] == ["ConfigMap", "Secret", "NetworkPolicy", "CronJob"]
    for obj in objs:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_a_misspelt_field_fails_validation() -> None:
    """Guards the test above: strict validation does reject an unknown field."""
    cron = _objects()["CronJob"]
    cron["spec"]["concurencyPolicy"] = "Forbid"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(cron, K8S_VERSION, strict=True)


def test_pods_meet_the_restricted_pod_security_standard() -> None:
    objs = _objects()
    pod = _pod(objs)
    assert pod["automountServiceAccountToken"] is False
    assert pod["restartPolicy"] == "Never"
    ctx = pod["securityContext"]
    assert ctx["runAsNonRoot"] is True
    assert ctx["runAsUser"] > 0
    assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for c in _containers(objs):
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["runAsNonRoot"] is True
        assert sc["runAsUser"] > 0
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        tmp = [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"]
        assert len(tmp) == 1
        assert "emptyDir" in volumes[tmp[0]["name"]]
        for kind in ("requests", "limits"):
            assert set(c["resources"][kind]) == {"cpu", "memory"}


def test_security_context_is_the_vllm_servers_own() -> None:
    objs = _objects()
    assert _pod(objs)["securityContext"] == pod_security_context()
    for c in _containers(objs):
        assert c["securityContext"] == container_security_context()


def test_images_are_stock_and_pinned_by_digest() -> None:
    images = [c["image"] for c in _containers(_objects())]
    assert images[0].startswith("curlimages/curl:")
    assert images[1].startswith("postgres:")
    for image in images:
        assert "@sha256:" in image
        assert image_is_pinned(image)


def test_every_object_and_the_pods_carry_the_standard_labels() -> None:
    cfg = _cfg()
    objs = _objects(cfg)
    for obj in objs.values():
        meta = obj["metadata"]
        assert meta["namespace"] == cfg.namespace_name
        assert meta["labels"] == standard_labels(meta["name"], COMPONENT, "staging")
    pod_labels = objs["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert pod_labels["app.kubernetes.io/component"] == "health-reporter"
    assert pod_labels["vllm-platform.io/environment"] == "staging"


def test_the_vllm_network_policy_admits_the_reporter_pods() -> None:
    cfg = _cfg()
    objs = _objects(cfg)
    pod_labels = objs["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    policy = server_network_policy(cfg, cfg.models[0])
    peers = [p for rule in policy["spec"]["ingress"] for p in rule["from"]]
    same_namespace = [p for p in peers if set(p) == {"podSelector"}]
    assert any(_matches(p["podSelector"]["matchLabels"], pod_labels) for p in same_namespace)


def test_the_reporter_policy_allows_only_dns_the_servers_and_the_registry() -> None:
    cfg = _cfg()
    objs = _objects(cfg)
    policy = objs["NetworkPolicy"]["spec"]
    pod_labels = objs["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert _matches(policy["podSelector"]["matchLabels"], pod_labels)
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == []
    ports = [{p["port"] for p in rule["ports"]} for rule in policy["egress"]]
    assert ports == [{53}, {8003}, {cfg.registry.port}]  # the allowlist's health port
    server_peer = policy["egress"][1]["to"][0]["podSelector"]["matchLabels"]
    assert all(_matches(server_peer, selector_labels(m)) for m in cfg.models)


def test_schedule_and_run_limits() -> None:
    spec = _objects()["CronJob"]["spec"]
    assert spec["schedule"] == "* * * * *"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert 0 < spec["startingDeadlineSeconds"] < 60
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 0
    assert job["activeDeadlineSeconds"] < 60
    assert _objects(schedule="*/5 * * * *")["CronJob"]["spec"]["schedule"] == "*/5 * * * *"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"schedule": "every minute"}, "healthReporter.schedule"),
        ({"schedule": "* * * *"}, "healthReporter.schedule"),
        ({"timeout_seconds": 0}, "healthReporter.timeoutSeconds"),
        ({"timeout_seconds": 30}, "healthReporter.timeoutSeconds"),
        ({"psql_image": "postgres:latest"}, "healthReporter.psqlImage"),
        ({"probe_image": "curlimages/curl"}, "healthReporter.probeImage"),
    ],
)
def test_bad_settings_are_rejected(settings: dict[str, Any], message: str) -> None:
    raw = raw_stack("development")
    raw["healthReporter"] = {to_camel(k): v for k, v in settings.items()}
    with pytest.raises(ConfigError) as info:
        load_stack_config(raw)
    assert any(str(i).startswith(message) for i in info.value.issues), info.value.issues


def test_the_script_sql_and_models_are_in_the_config_map() -> None:
    cfg = _cfg()
    objs = _objects(cfg)
    data = objs["ConfigMap"]["data"]
    assert data["reporter.sh"] == read_asset("reporter.sh")
    assert data["report.sql"] == read_asset("report.sql")
    assert data["models"].splitlines() == [
        f"{m.name} http://{m.name}.vllm-staging.svc.cluster.local:8003/health" for m in cfg.models
    ]
    assert health_url(cfg, "x") == "http://x.vllm-staging.svc.cluster.local:8003/health"
    for c in _containers(objs):
        assert c["command"] == ["/bin/sh", f"{CONFIG_DIR}/reporter.sh", c["name"]]


def test_the_password_is_only_in_the_secret_and_only_the_report_step_mounts_it() -> None:
    password = "writer-pw-Kd3#pL"
    objs = {o["kind"]: o for o in health_reporter_objects(_cfg(), writer_password=password)}
    assert objs["Secret"]["stringData"] == {"password": password}
    for kind in ("ConfigMap", "NetworkPolicy", "CronJob"):
        assert password not in yaml.safe_dump(objs[kind])
    default = _objects()["Secret"]["stringData"]
    assert default == {"password": "REDACTED"}
    probe, report = _containers(objs)
    assert "registry-password" not in {m["name"] for m in probe["volumeMounts"]}
    assert "registry-password" in {m["name"] for m in report["volumeMounts"]}
    for c in (probe, report):
        assert all("valueFrom" not in e for e in c["env"])  # a file, not an env var
        assert "envFrom" not in c
    assert _env(report)["HR_PASSWORD_FILE"] == "/var/run/secrets/registry/password"


def test_the_report_step_connects_as_the_writer_role() -> None:
    cfg = _cfg()
    env = _env(_containers(_objects(cfg))[1])
    assert env["PGHOST"] == cfg.registry.host
    assert env["PGPORT"] == str(cfg.registry.port)
    assert env["PGDATABASE"] == cfg.registry.database
    assert env["PGUSER"] == cfg.writer_role == "vllm_registry_writer_staging"
    assert env["PGSSLMODE"] == "verify-full"
    assert env["PGSSLROOTCERT"] == "system"
    assert env["HR_ENVIRONMENT"] == "staging"
    assert env["HR_DISABLE_ROUTING"] == "false"
    flagged = _env(_containers(_objects(cfg, unhealthy_disables_routing=True))[1])
    assert flagged["HR_DISABLE_ROUTING"] == "true"


def test_the_registry_ca_is_shipped_and_used() -> None:
    """One CA for every registry client: registry.sslRootCert (a file in the project)."""
    ca = "tests/fixtures/tls/registry-ca.pem"
    raw = raw_stack("staging")
    raw["registry"]["sslRootCert"] = ca
    objs = _objects(load_stack_config(raw).config)
    assert objs["ConfigMap"]["data"]["root.crt"] == (ROOT / ca).read_text()
    assert _env(_containers(objs)[1])["PGSSLROOTCERT"] == f"{CONFIG_DIR}/root.crt"


def test_verify_ca_without_a_ca_certificate_is_rejected() -> None:
    raw = raw_stack("development")
    raw["registry"]["sslmode"] = "verify-ca"
    with pytest.raises(ConfigError) as info:
        load_stack_config(raw)
    assert [i.path for i in info.value.issues] == ["registry.sslRootCert"]


def test_disabled_builds_nothing() -> None:
    assert health_reporter_objects(with_reporter(_cfg(), enabled=False)) == []


def test_a_model_named_like_a_reporter_object_is_rejected_with_its_key() -> None:
    raw = raw_stack("staging")
    raw["models"][1]["name"] = "health-reporter"
    loaded = load_stack_config(raw)
    with pytest.raises(ConfigError) as info:
        stack_objects(loaded, plan_stack(loaded.config))
    assert [i.path for i in info.value.issues] == ["models[1].name"]
    assert "health-reporter" in str(info.value)


@pytest.mark.parametrize("shell", [s for s in ("dash", "bash", "busybox") if shutil.which(s)])
def test_the_script_parses_in_posix_shells(shell: str) -> None:
    cmd = ["busybox", "sh"] if shell == "busybox" else [shell]
    script = read_asset("reporter.sh")
    result = subprocess.run([*cmd, "-n"], input=script, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "set -eu" in script
    assert "set -x" not in script.replace("(set -x)", "")


def test_the_script_rejects_an_unknown_step() -> None:
    result = subprocess.run(
        ["sh", "-c", read_asset("reporter.sh"), "reporter.sh", "frobnicate"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_the_report_step_writes_only_its_owners_entries() -> None:
    """HR_OWNER scopes report.sql (tests/integration/test_health_reporter_owner.py); the program
    passes its own <project>/<stack>, and ops render (no stack name) the environment's."""
    cfg = _cfg()
    assert _env(_containers(_objects(cfg))[1])["HR_OWNER"] == "vllm-platform/staging"
    canary = {o["kind"]: o for o in health_reporter_objects(cfg, owner="vllm-platform/canary")}
    assert _env(_containers(canary)[1])["HR_OWNER"] == "vllm-platform/canary"
    assert "HR_OWNER" not in _env(_containers(canary)[0])  # the probe step needs no owner


def test_the_program_gives_the_reporter_the_stacks_own_owner() -> None:
    from tests.support.harness import run_program, stack_file_config

    run = run_program("staging-canary", config=stack_file_config("staging"))
    pod = run.one("kubernetes:batch/v1:CronJob").inputs["spec"]["jobTemplate"]["spec"]
    [report] = pod["template"]["spec"]["containers"]
    assert _env(report)["HR_OWNER"] == "vllm-platform/staging-canary"


def test_the_reporter_connects_to_the_cluster_side_name_of_the_registry() -> None:
    """`pulumi up` writes from the deploying machine (registry.host), the reporter from inside
    the cluster: examples/Pulumi.local.yaml reaches one server by two names."""
    cfg = load_from_stack_file(ROOT / "examples" / "Pulumi.local.yaml").config
    assert cfg.registry.host == "127.0.0.1"
    env = _env(_containers(_objects(cfg))[1])
    assert env["PGHOST"] == "registry-postgresql.registry.svc.cluster.local"
    staging = _cfg()
    assert _env(_containers(_objects(staging))[1])["PGHOST"] == staging.registry.host
