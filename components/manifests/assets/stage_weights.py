"""Stage one pinned Hub revision into the stack's bucket, once: file by file (Hub -> scratch ->
bucket, each file removed after its upload), then a marker object; a rerun with the marker
present does nothing. Runs in the staging Job (components/manifests/vllm/streamer.py)."""

import fnmatch
import os
import pathlib
import tempfile
import time

import boto3
from botocore.exceptions import ClientError
from huggingface_hub import HfApi, hf_hub_download

# What the streamer never reads: other weight formats, originals, framework exports.
SKIP = ["original/*", "*.pth", "*.gguf", "*.onnx", "*.onnx_data", "*.msgpack", "*.h5"]
SKIP += ["*.bin", "*.pt", ".gitattributes"]
MARKER = ".vllm-platform-staged"
# What S3 answers a key it does not accept (a HEAD's error has only the status).
REFUSED = ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch")


def staged(s3: object, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)  # type: ignore[attr-defined]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in ("404", "NoSuchKey", "NotFound"):
            return False
        if code in REFUSED:
            endpoint = os.environ.get("AWS_ENDPOINT_URL", "the default endpoint")
            raise SystemExit(
                f"s3://{bucket}/{key} at {endpoint}: the key was refused ({code}); check the "
                "weights-object-storage Secret (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"
            ) from None
        raise
    return True


def main() -> None:
    repo, revision = os.environ["MODEL_ID"], os.environ["MODEL_REVISION"]
    bucket, prefix = os.environ["WEIGHTS_BUCKET"], os.environ["WEIGHTS_PREFIX"]
    s3 = boto3.client("s3")  # AWS_ENDPOINT_URL and the key's credentials from the environment
    if staged(s3, bucket, f"{prefix}/{MARKER}"):
        print(f"{repo}@{revision} is staged in s3://{bucket}/{prefix}; nothing to do")
        return
    files = HfApi().list_repo_files(repo, revision=revision)
    files = [f for f in files if not any(fnmatch.fnmatch(f, p) for p in SKIP)]
    if not any(f.endswith(".safetensors") and "/" not in f for f in files):
        raise SystemExit(f"{repo}@{revision} has no safetensors (the streamer reads no other)")
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        for name in files:
            local = pathlib.Path(hf_hub_download(repo, name, revision=revision, local_dir=scratch))
            s3.upload_file(str(local), bucket, f"{prefix}/{name}")
            local.unlink()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    s3.put_object(Bucket=bucket, Key=f"{prefix}/{MARKER}", Body=stamp.encode())
    print(f"staged {len(files)} files of {repo}@{revision} in {time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    main()
