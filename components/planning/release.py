"""The release record: what one `pulumi up` deployed, exported as the stack output ``release``.

Pure (no Pulumi): a digest of the validated configuration, per model its image, revision,
replicas and endpoint, and the git commit of the code when known. ``ops history`` and
``ops rollback`` read the same facts back from the stack's update history.

Secrets never appear: ``StackConfig`` holds none (the secret keys are read as Outputs by the
program), so neither the digest input nor the record can carry one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any, Final

from components.config import StackConfig

RELEASE_SCHEMA_VERSION: Final = 1

# Set by `python -m ops rollback --yes` for the `pulumi up` it runs: the history version being
# restored. The program passes it to each RegistryEntry so the registry event is `rolled_back`.
ROLLBACK_ENV: Final = "VLLM_PLATFORM_ROLLBACK_TO"

# CI checkouts without a .git directory (or with a detached, shallow one) can name the commit.
GIT_COMMIT_ENV: Final = "VLLM_PLATFORM_GIT_COMMIT"

_SHA = re.compile(r"^[0-9a-f]{7,64}$")


def config_digest(cfg: StackConfig) -> str:
    """sha256 of the canonical JSON of the validated config (camelCase keys, sorted, compact).

    Defaults are filled in by validation, so two stack files that mean the same deployment have
    the same digest, and any change that reaches the program changes it.
    """
    canonical = json.dumps(
        cfg.model_dump(mode="json", by_alias=True),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def release_record(cfg: StackConfig, git_commit: str | None) -> dict[str, Any]:
    """The ``release`` stack output: plain JSON data, no secrets, stable key order."""
    return {
        "schemaVersion": RELEASE_SCHEMA_VERSION,
        "configDigest": config_digest(cfg),
        "environment": cfg.environment,
        "namespace": cfg.namespace_name,
        "gitCommit": git_commit,
        "models": {
            m.name: {
                "hfModelId": m.hf_model_id,
                "image": m.image,
                "revision": m.revision,
                "replicas": m.replicas,
                "endpoint": cfg.endpoint_url(m.name),
            }
            for m in cfg.models
        },
    }


def current_git_commit(cwd: str | Path | None = None) -> str | None:
    """The commit of the checked-out code: ``$VLLM_PLATFORM_GIT_COMMIT``, else ``git rev-parse``.

    Returns None (never raises) when git is not installed, ``cwd`` is not in a repository, the
    repository has no commit yet, or the environment variable is not a commit hash.
    """
    from_env = os.environ.get(GIT_COMMIT_ENV, "").strip().lower()
    if from_env:
        return from_env if _SHA.match(from_env) else None
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = result.stdout.strip().lower()
    return sha if result.returncode == 0 and _SHA.match(sha) else None
