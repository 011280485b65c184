"""The live tier's cached environment: vLLM's CPU build of the live stack's version, the tiny
model made locally with it, and an S3-compatible server (moto) for the streamed model. All live
outside the clone (tools/vllm_env.py ``cache_root``) and are rebuilt only when their recipe
changes; a fresh machine builds them once (about three minutes here), then every run reuses them.

    python -m tests.live.environment      # build or find both, print where they are
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from components.vllm_contract import image_version
from tests.support.stackfiles import ROOT

__all__ = ["LiveEnvironment", "live_environment", "live_version", "place_model"]

VLLM_ENV = ROOT / "tools" / "vllm_env.py"
TINY_MODEL = ROOT / "tools" / "tiny_model.py"
LIVE_STACK = ROOT / "tests" / "live" / "Pulumi.live.yaml"
STREAM_STACK = ROOT / "tests" / "live" / "Pulumi.live-stream.yaml"


@dataclass(frozen=True)
class LiveEnvironment:
    venv: Path
    model: Path  # a plain Hugging Face model directory
    adapter: Path  # a LoRA adapter of it, PEFT's files
    s3_server: Path  # the venv of the S3-compatible server (moto)

    @property
    def bin(self) -> Path:
        return self.venv / "bin"


def live_model_config() -> dict[str, object]:
    doc = yaml.safe_load(LIVE_STACK.read_text(encoding="utf-8"))
    model: dict[str, object] = doc["config"]["vllm-platform:models"][0]
    return model


def live_version() -> str:
    """The vLLM version the live stack's image names, without the ``v`` (``0.32.0``)."""
    version = image_version(str(live_model_config()["image"]))
    assert version is not None, "the live stack's image must name a vLLM version"
    return version.removeprefix("v")


def _venv(*args: str) -> Path:
    done = subprocess.run(
        [sys.executable, str(VLLM_ENV), *args],
        check=False,
        stdout=subprocess.PIPE,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"tools/vllm_env.py {' '.join(args)} failed (see its log above)")
    return Path(done.stdout.strip().splitlines()[-1])


def _model(venv: Path) -> Path:
    """The tiny model (``model/``) and its LoRA adapter (``lora/``), made with the venv's
    torch/transformers/tokenizers; keyed on the maker's source and the venv, so a change to
    either makes them again."""
    key = hashlib.sha256(TINY_MODEL.read_bytes() + venv.name.encode()).hexdigest()[:12]
    out = venv.parent / f"tiny-model-{key}"
    if (out / "model" / "config.json").is_file():
        return out
    for stale in venv.parent.glob("tiny-model-*"):
        shutil.rmtree(stale, ignore_errors=True)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    subprocess.run(
        [
            *(str(venv / "bin" / "python"), str(TINY_MODEL)),
            *("--out", str(partial / "model"), "--lora-out", str(partial / "lora")),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    partial.rename(out)
    return out


def live_environment() -> LiveEnvironment:
    venv = _venv("venv", live_version())
    made = _model(venv)
    return LiveEnvironment(
        venv=venv, model=made / "model", adapter=made / "lora", s3_server=_venv("s3-server")
    )


def place_model(model: Path, hf_home: Path, repo: str, revision: str) -> Path:
    """Put ``model`` where vLLM looks for ``repo`` at ``revision`` with HF_HUB_OFFLINE=1: the
    Hugging Face cache layout ``$HF_HOME/hub/models--<org>--<name>/snapshots/<revision>/``
    (what the fetch-weights init container's ``snapshot_download`` leaves on the volume)."""
    repo_dir = hf_home / "hub" / ("models--" + repo.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / revision
    snapshot.mkdir(parents=True, exist_ok=True)
    for item in model.iterdir():
        shutil.copy2(item, snapshot / item.name)
    (repo_dir / "refs").mkdir(exist_ok=True)
    (repo_dir / "refs" / "main").write_text(revision, encoding="utf-8")
    return snapshot


if __name__ == "__main__":
    env = live_environment()
    print(json.dumps({"version": live_version(), "venv": str(env.venv), "model": str(env.model)}))
