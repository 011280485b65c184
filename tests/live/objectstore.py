"""The live tier's stand-ins for what a streamed model reaches outside the pod: an S3-compatible
server (moto, signatures checked) holding the stack's bucket and a key limited to it (what
``WeightStore`` makes with pulumi-linode), and, for the staging Job's script, the Hugging Face
Hub (none is reachable here): a ``sitecustomize`` that answers the script's two Hub calls from
the locally made model, for the rendered repository and revision only.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.live.server import Server, free_port

__all__ = ["S3Store", "hub_shim", "start_s3"]

# The requests moto serves before it checks signatures: provision()'s four calls, no more.
PROVISIONING_CALLS = 4

_PROVISION = """
import json, sys
import boto3
endpoint, bucket = sys.argv[1:3]
admin = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="admin",
             aws_secret_access_key="admin")
iam = boto3.client("iam", **admin)
iam.create_user(UserName="weights")
key = iam.create_access_key(UserName="weights")["AccessKey"]
policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*",
          "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}
iam.put_user_policy(UserName="weights", PolicyName=bucket, PolicyDocument=json.dumps(policy))
boto3.client("s3", **admin).create_bucket(Bucket=bucket)
print(json.dumps({"access": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
"""

_LIST = """
import json, sys
import boto3
endpoint, bucket, prefix, access, secret = sys.argv[1:6]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id=access, aws_secret_access_key=secret)
pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
print(json.dumps({o["Key"]: o["Size"] for p in pages for o in p.get("Contents", [])}))
"""

_SHIM = """# The Hugging Face Hub for the staging script on a machine without one (tests/live).
import pathlib, shutil
import huggingface_hub

SNAPSHOT = pathlib.Path({snapshot!r})
REPO, REVISION = {repo!r}, {revision!r}


def _check(repo_id, revision):
    if (repo_id, revision) != (REPO, REVISION):
        raise RuntimeError(f"asked the Hub for {{repo_id}}@{{revision}}, not {{REPO}}@{{REVISION}}")


def list_repo_files(self, repo_id, revision=None, **kwargs):
    _check(repo_id, revision)
    return sorted(str(p.relative_to(SNAPSHOT)) for p in SNAPSHOT.rglob("*") if p.is_file())


def hf_hub_download(repo_id, filename, revision=None, local_dir=None, **kwargs):
    _check(repo_id, revision)
    target = pathlib.Path(local_dir) / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SNAPSHOT / filename, target)
    return str(target)


huggingface_hub.HfApi.list_repo_files = list_repo_files
huggingface_hub.hf_hub_download = hf_hub_download
"""


@dataclass
class S3Store:
    """The running server, its endpoint and the venv whose boto3 talks to it."""

    server: Server
    endpoint: str
    python: Path

    def provision(self, bucket: str) -> tuple[str, str]:
        """The bucket and a key that may use it and nothing else: (access key id, secret)."""
        out = self._run(_PROVISION, self.endpoint, bucket)
        return str(out["access"]), str(out["secret"])

    def objects(self, bucket: str, prefix: str, key: tuple[str, str]) -> dict[str, int]:
        """Key -> size of the objects under ``prefix``, listed with ``key``."""
        listed = self._run(_LIST, self.endpoint, bucket, prefix, *key)
        return {k: int(str(v)) for k, v in listed.items()}

    def requests(self) -> list[str]:
        """The server's request log lines so far, without their terminal colours."""
        text = re.sub(r"\x1b\[[0-9;]*m", "", self.server.log.read_text())
        return [line for line in text.splitlines() if '"' in line]

    def _run(self, script: str, *args: str) -> dict[str, object]:
        done = subprocess.run(
            [str(self.python), "-c", script, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        result: dict[str, object] = json.loads(done.stdout)
        return result


def start_s3(venv: Path, root: Path) -> S3Store:
    """moto's server on a free port of 127.0.0.1, checking signatures after provisioning."""
    port = free_port()
    python = venv / "bin" / "python"
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(root),
        "INITIAL_NO_AUTH_ACTION_COUNT": str(PROVISIONING_CALLS),
        "MOTO_ALLOW_NONEXISTENT_REGION": "true",
    }
    argv = [str(python), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    server = Server(argv, env, root / "s3-server.log", None, 5)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # /moto-api/ is moto's own page: it answers without counting against the calls above.
    server.wait_ready(f"{endpoint}/moto-api/", 30)
    return S3Store(server, endpoint, python)


def hub_shim(directory: Path, snapshot: Path, repo: str, revision: str) -> Path:
    """A ``sitecustomize`` in ``directory`` (put it on PYTHONPATH) serving ``snapshot`` as
    ``repo`` at ``revision`` to ``HfApi.list_repo_files`` and ``hf_hub_download``."""
    directory.mkdir(parents=True, exist_ok=True)
    text = _SHIM.format(snapshot=str(snapshot), repo=repo, revision=revision)
    (directory / "sitecustomize.py").write_text(text, encoding="utf-8")
    os.chmod(directory, 0o755)
    return directory
