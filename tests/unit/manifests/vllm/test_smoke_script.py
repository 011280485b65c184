"""The smoke Job's script, run for real by a POSIX shell with stand-ins for curl and nslookup.

The rendered Job's command and env are taken from the builder, so what runs here is exactly
what the cluster would run; only the two network tools are replaced by scripts that record
which replica was asked and answer as told (HTTP code per host, or no answer in time).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.manifests.vllm.smoke import smoke_job
from components.manifests.vllm.workload import workload
from tests.unit.manifests.vllm.support import container, stack

SH = shutil.which("sh")
pytestmark = pytest.mark.skipif(SH is None, reason="needs a POSIX sh")

# curl stand-in: the URL is the last argument; answers per host from FAKE_ANSWERS
# ("host=code" words; code "timeout" means exit 28 like --max-time).
FAKE_CURL = r"""#!/bin/sh
out=""
prev=""
data=""
for arg in "$@"; do
  [ "$prev" = "--output" ] && out=$arg
  [ "$prev" = "--data" ] && data=$arg
  prev=$arg
  url=$arg
done
host=${url#http://}
host=${host%%:*}
model=$(printf '%s' "$data" | sed 's/.*"model": *"\([^"]*\)".*/\1/')
echo "$host" >> "$FAKE_LOG"
echo "$host/$model" >> "$FAKE_LOG.models"
code=200
for pair in $FAKE_ANSWERS; do
  [ "${pair%%=*}" = "$host" ] && code=${pair#*=}
  [ "${pair%%=*}" = "$host/$model" ] && code=${pair#*=}
done
if [ "$code" = "timeout" ]; then
  echo "curl: (28) Operation timed out" >&2
  exit 28
fi
echo '{"ok":true}' > "$out"
printf '%s 0.42' "$code"
"""

# busybox nslookup's output format (server section first, then one Name/Address per record).
FAKE_NSLOOKUP = r"""#!/bin/sh
printf 'Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n'
for ip in $FAKE_ADDRESSES; do
  printf 'Name:\t%s\nAddress: %s\n\n' "$2" "$ip"
done
"""


def _tool(directory: Path, name: str, text: str) -> None:
    path = directory / name
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def run_smoke(
    tmp_path: Path,
    job: dict[str, Any],
    *,
    answers: str = "",
    addresses: str = "",
    dns_wait: str | None = None,
) -> tuple[int, str, list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    _tool(bin_dir, "curl", FAKE_CURL)
    _tool(bin_dir, "nslookup", FAKE_NSLOOKUP)
    c = container(job)
    env = {e["name"]: e["value"] for e in c["env"] if "value" in e}
    if dns_wait is not None:
        env["SMOKE_DNS_WAIT_SECONDS"] = dns_wait
    log = tmp_path / "asked.log"
    log.unlink(missing_ok=True)
    Path(f"{log}.models").unlink(missing_ok=True)
    env.update(
        VLLM_API_KEY="test-key",
        TMPDIR=str(tmp_path),
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        FAKE_LOG=str(log),
        FAKE_ANSWERS=answers,
        FAKE_ADDRESSES=addresses,
    )
    assert c["command"][:2] == ["/bin/sh", "-c"]
    done = subprocess.run(
        [str(SH), "-c", c["command"][2]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    asked = log.read_text().split() if log.exists() else []
    return done.returncode, done.stdout + done.stderr, asked


def statefulset_job(replicas: int = 3) -> dict[str, Any]:
    cfg, m, plan = stack(replicas=replicas, max_nodes=9)
    return smoke_job(cfg, m, workload(cfg, m, plan))


def deployment_job(replicas: int = 3) -> dict[str, Any]:
    cfg, m, plan = stack(replicas=replicas, weightCache={"mode": "none"}, max_nodes=9)
    return smoke_job(cfg, m, workload(cfg, m, plan))


POD = "llama-3-3-70b-instruct-{}.llama-3-3-70b-instruct-pods.vllm-production.svc.cluster.local"


def test_every_statefulset_replica_is_asked_by_its_own_pod_name(tmp_path: Path) -> None:
    rc, out, asked = run_smoke(tmp_path, statefulset_job(3))
    assert rc == 0, out
    assert asked == [POD.format(i) for i in range(3)]
    assert "all 3 replica(s) answered" in out
    assert "test-key" not in out  # the key goes in a header file, never on the command line


def test_a_broken_second_replica_fails_the_test(tmp_path: Path) -> None:
    rc, out, asked = run_smoke(tmp_path, statefulset_job(3), answers=f"{POD.format(1)}=500")
    assert rc == 1
    assert len(asked) == 3  # the others are still tested, so the log names every broken one
    assert f"replica {POD.format(1)} FAILED: HTTP 500" in out
    assert "1 of 3 replica(s) did not answer" in out


def test_a_replica_that_misses_its_time_budget_fails_the_test(tmp_path: Path) -> None:
    rc, out, _ = run_smoke(tmp_path, statefulset_job(2), answers=f"{POD.format(0)}=timeout")
    assert rc == 1
    assert "curl exit 28" in out and "no answer within 3s" in out


def test_a_deployment_tests_every_address_of_its_headless_service(tmp_path: Path) -> None:
    job = deployment_job(3)
    env = {e["name"]: e.get("value") for e in container(job)["env"]}
    assert env["SMOKE_TARGETS"] == ""
    assert env["SMOKE_DNS_NAME"] == (
        "llama-3-3-70b-instruct-pods.vllm-production.svc.cluster.local"
    )
    rc, out, asked = run_smoke(tmp_path, job, addresses="10.2.0.7 10.2.1.9 10.2.2.4")
    assert rc == 0, out
    assert asked == ["10.2.0.7", "10.2.1.9", "10.2.2.4"]  # the DNS server's address is not one

    rc, out, _ = run_smoke(
        tmp_path, job, addresses="10.2.0.7 10.2.1.9 10.2.2.4", answers="10.2.1.9=503"
    )
    assert rc == 1 and "replica 10.2.1.9 FAILED: HTTP 503" in out


def test_a_deployment_with_fewer_ready_addresses_than_replicas_fails(tmp_path: Path) -> None:
    rc, out, asked = run_smoke(tmp_path, deployment_job(3), addresses="10.2.0.7", dns_wait="0")
    assert rc == 1
    assert asked == []
    assert "resolves to 1 ready replica(s), expected 3" in out


def test_an_autoscaled_statefulset_tests_every_ready_replica_at_least_keda_s_minimum(
    tmp_path: Path,
) -> None:
    # KEDA owns the count: there may be 1 to 3 replicas when the test runs, not `replicas`.
    cfg, m, plan = stack(replicas=2, autoscaling={"minReplicas": 1, "maxReplicas": 3}, max_nodes=9)
    job = smoke_job(cfg, m, workload(cfg, m, plan))
    env = {e["name"]: e.get("value") for e in container(job)["env"]}
    assert env["SMOKE_TARGETS"] == "" and env["SMOKE_REPLICAS"] == "1"
    rc, out, asked = run_smoke(tmp_path, job, addresses="10.2.0.7 10.2.1.9 10.2.2.4")
    assert rc == 0, out
    assert len(asked) == 3  # a replica KEDA added before the test is tested too
    rc, out, _ = run_smoke(tmp_path, job, addresses="", dns_wait="0")
    assert rc == 1 and "resolves to 0 ready replica(s), expected 1" in out
