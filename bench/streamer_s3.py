"""The Run:ai streamer's S3 path against a local S3-compatible server (#27 "faster bytes").

What vLLM's ``--load-format runai_streamer`` does with an ``s3://`` model, minus vLLM: list the
bucket's safetensors and stream them with ``SafetensorsStreamer``, configured only by the
environment the pods would get; every tensor read back is compared with what was uploaded.
Needs torch, ``runai-model-streamer[s3]`` and an S3 server (e.g. ``moto.server``), none of them
in ``make venv``: docs/benchmarks.md, "Streamer from a local S3 server", has the setup. Usage:
``python bench/streamer_s3.py --endpoint http://127.0.0.1:5999 [--mb 512] [--files 4]
[--concurrency 1,4,16]``
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import struct
import subprocess
import tempfile
import time
import urllib.request


def _safetensors(name: str, rows: int, cols: int, seed: int) -> tuple[bytes, bytes]:
    """A one-tensor safetensors file of float32 ``rows x cols`` (format: 8-byte little-endian
    header length, JSON header, data) and its data."""
    data = bytes((seed + i) % 251 for i in range(256)) * (rows * cols * 4 // 256)
    header = json.dumps(
        {name: {"dtype": "F32", "shape": [rows, cols], "data_offsets": [0, len(data)]}}
    ).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + data, data


def _put(endpoint: str, bucket: str, key: str, body: bytes) -> None:
    with tempfile.NamedTemporaryFile() as f:
        f.write(body)
        f.flush()
        subprocess.run(
            ["curl", "-sSf", "-o", "/dev/null", "-T", f.name, f"{endpoint}/{bucket}/{key}"],
            check=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", default="weights")
    parser.add_argument("--mb", type=int, default=512, help="total size of the checkpoint")
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--concurrency", default="1,4,16")
    args = parser.parse_args()

    urllib.request.urlopen(
        urllib.request.Request(f"{args.endpoint}/{args.bucket}", method="PUT")
    ).close()
    cols = 1024
    rows = args.mb * 1024 * 1024 // args.files // (cols * 4)
    expected: dict[str, bytes] = {}
    for i in range(args.files):
        name = f"layer{i}.weight"
        body, data = _safetensors(name, rows, cols, i)
        _put(args.endpoint, args.bucket, f"model/model-{i:05d}.safetensors", body)
        expected[name] = data

    # What the pods' environment would hold (credentials by secretKeyRef there; any here).
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_EC2_METADATA_DISABLED": "true",
            # The pods set AWS_ENDPOINT_URL: boto3 (the streamer's listing) reads it, and vLLM
            # copies it to RUNAI_STREAMER_S3_ENDPOINT for the native reader
            # (runai_streamer_loader.py:43-48), as done here.
            "AWS_ENDPOINT_URL": args.endpoint,
            "RUNAI_STREAMER_S3_ENDPOINT": args.endpoint,
            "RUNAI_STREAMER_S3_USE_VIRTUAL_ADDRESSING": "0",
        }
    )
    # Imported once the environment is set, and not part of `make venv` (hence by name).
    runai = importlib.import_module("runai_model_streamer")
    files = runai.list_safetensors(f"s3://{args.bucket}/model/")
    if len(files) != args.files:
        raise SystemExit(f"listed {files}")
    print(f"{len(files)} files, {args.mb} MB from {args.endpoint}")
    print("concurrency  seconds  MB/s   tensors equal")
    for concurrency in (int(c) for c in args.concurrency.split(",")):
        os.environ["RUNAI_STREAMER_CONCURRENCY"] = str(concurrency)
        start = time.perf_counter()
        got: dict[str, bytes] = {}
        with runai.SafetensorsStreamer() as streamer:
            streamer.stream_files(files)
            for name, tensor in streamer.get_tensors():
                got[name] = tensor.numpy().tobytes()
        seconds = time.perf_counter() - start
        same = got == expected
        print(f"{concurrency:>11}  {seconds:7.2f}  {args.mb / seconds:6.0f}  {same}")
        if not same:
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
