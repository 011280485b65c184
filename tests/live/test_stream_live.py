"""The streamed model (``weightSource.kind: objectStorage``, tests/live/Pulumi.live-stream.yaml)
as rendered, against a local S3-compatible server that checks signatures: the staging Job's
script copies the pinned revision into the stack's bucket once, with the key the Secret holds;
vLLM's CPU build then streams it with ``--load-format runai_streamer`` onto an empty weight
volume and answers the rendered smoke test. Runs last (tiny-chat and tiny-base are stopped).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.live.conftest import IMAGE_PATH, PROXY_PORTS, RESULTS, Run, pod_user
from tests.live.environment import STREAM_STACK
from tests.live.objectstore import S3Store, hub_shim, start_s3
from tests.live.rendered import Address, local_env, render
from tests.live.server import free_port
from tests.live.test_live_server import run_as, run_smoke

pytestmark = pytest.mark.live

MODEL = "tiny-stream"
MARKER = ".vllm-platform-staged"


@dataclass
class Streamed:
    run: Run
    store: S3Store
    bucket: str
    prefix: str  # the revision's objects, as the server's s3:// argument names them
    key: tuple[str, str]
    stages: int = 0

    def stage(self, key: tuple[str, str] | None = None) -> str:
        """The rendered staging Job's container, run here as its user; its exit and output."""
        container = self.run.rendered.stage(MODEL)
        self.stages += 1
        tmp = self.run.own(self.run.root / f"stage-tmp-{self.stages}")  # a new pod's emptyDir
        argv, env = local_env(
            container, {"tmp": tmp}, self.s3_secrets(key), f"{self.run.env.bin}:{IMAGE_PATH}"
        )
        env["PYTHONPATH"] = str(self.run.root / "hub")  # the Hub (objectstore.hub_shim)
        return run_as(container, self.run, argv, env)

    def s3_secrets(self, key: tuple[str, str] | None = None) -> dict[str, str]:
        """The ``weights-object-storage`` Secret's values by the variables that reference it."""
        access, secret = key or self.key
        return {
            "AWS_ACCESS_KEY_ID": access,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_ENDPOINT_URL": self.store.endpoint,
        }

    def staged(self) -> dict[str, int]:
        return self.store.objects(self.bucket, self.prefix + "/", self.key)


@pytest.fixture(scope="module")
def streamed(live_run: Run) -> Iterator[Streamed]:
    if live_run.server is not None:  # one server at a time on two cores
        live_run.server.stop()
        live_run.server = None
    root = live_run.root / MODEL
    root.mkdir()
    rendered = render(root / "rendered", STREAM_STACK)
    run = Run(
        root,
        live_run.env,
        rendered,
        Address("127.0.0.1", free_port()),
        live_run.key,
        pod_user(rendered, MODEL),
        model=MODEL,
    )
    run.ports = {name: Address("127.0.0.1", free_port()) for name in PROXY_PORTS}
    source = urlsplit(run.container.argv[2])  # vllm serve s3://<bucket>/<prefix>/
    assert source.scheme == "s3", run.container.argv
    store = start_s3(live_run.env.s3_server, root)
    stage_env = {e["name"]: e.get("value") for e in rendered.stage(MODEL).spec["env"]}
    # The Hub's copy of the revision, readable by the pod's user.
    snapshot = run.own(Path(shutil.copytree(live_run.env.model, root / "hub-snapshot")))
    hub_shim(
        root / "hub",
        snapshot,
        str(stage_env["MODEL_ID"]),
        str(stage_env["MODEL_REVISION"]),
    )
    bucket = source.netloc
    streamed = Streamed(run, store, bucket, source.path.strip("/"), store.provision(bucket))
    run.secrets = streamed.s3_secrets()
    try:
        yield streamed
    finally:
        for process in (run.server, run.proxy, store.server):
            if process is not None:
                process.stop()


def test_the_staging_job_writes_where_the_server_reads_with_the_secrets_key(
    streamed: Streamed,
) -> None:
    env = streamed.run.rendered.stage(MODEL).spec["env"]
    values = {e["name"]: e.get("value") for e in env}
    assert (values["WEIGHTS_BUCKET"], values["WEIGHTS_PREFIX"]) == (
        streamed.bucket,
        streamed.prefix,
    )
    for container in (streamed.run.rendered.stage(MODEL), streamed.run.container):
        refs = {e["name"] for e in container.spec["env"] if "valueFrom" in e}
        assert set(streamed.s3_secrets()) <= refs, (container.spec["name"], refs)


def test_a_staging_job_with_a_wrong_secret_key_is_refused_and_writes_nothing(
    streamed: Streamed,
) -> None:
    out = streamed.stage((streamed.key[0], "not-the-secret-key"))
    assert not out.startswith("exit 0\n"), out
    assert "the key was refused (403)" in out and "weights-object-storage" in out, out
    assert "Traceback" not in out, out
    assert streamed.staged() == {}


def test_the_staging_job_copies_the_pinned_revision_into_the_bucket_once(
    streamed: Streamed,
) -> None:
    out = streamed.stage()
    assert out.startswith("exit 0\n") and "staged " in out, out
    model = streamed.run.env.model
    expected = {f"{streamed.prefix}/{p.name}": p.stat().st_size for p in model.iterdir()}
    staged = streamed.staged()
    assert staged.pop(f"{streamed.prefix}/{MARKER}") > 0
    assert staged == expected
    again = streamed.stage()
    assert again.startswith("exit 0\n") and "nothing to do" in again, again


def test_the_server_streams_the_bucket_onto_an_empty_volume_and_passes_the_smoke_test(
    streamed: Streamed,
) -> None:
    run = streamed.run
    run.volumes["weights"] = run.own(run.root / "weights")  # nothing placed: an empty volume
    run.start_proxy()
    before = len(streamed.store.requests())
    server = run.start_server(1)
    elapsed = server.wait_ready(run.url("health", "/health"), run.startup_budget())
    RESULTS["stream_cold_start_seconds"] = round(elapsed, 1)
    ranged = [
        line
        for line in streamed.store.requests()[before:]
        # the native reader asks in absolute form: GET http://<endpoint>/<bucket>/<key>
        if re.search(rf'"GET \S*/{streamed.bucket}/\S+\.safetensors HTTP/1.1" 206 ', line)
    ]
    assert ranged, "the server read no safetensors from the bucket by ranged GETs"
    RESULTS["stream_ranged_gets"] = len(ranged)
    assert not list(run.volumes["weights"].rglob("*.safetensors")), "weights landed on the volume"
    out = run_smoke(run)
    assert out.startswith("exit 0\n") and "smoke test passed" in out, out
    assert f"for model {MODEL} " in out, out
