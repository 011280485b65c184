"""`python -m ops plan --explain`: the what-if catalogue of a stack file, for whoever edits it.

For each key of the current file whose change does more than an in-place update: what it
replaces (the cluster, the GPU pool, the namespace, a model's objects, its StatefulSet through
the weight cache), whether delete-first or create-first and the spare GPUs that needs, what
restarts the pods, and the settings that cannot be undone. The facts come from the builders'
modules (``components/manifests/lke.py``, ``replacements.py``) and, behind them,
docs/provider-semantics.md; ``ops plan --against REF`` applies the same facts to one change.
"""

from __future__ import annotations

from collections.abc import Callable

from components.config import StackConfig
from components.manifests.lke import replacement_warnings
from components.manifests.replacements import model_replacements, registry_cautions
from components.manifests.vllm.streamer import bucket_replacements

# Each section: a title and the lines "key=value: what a change does".
WHAT_IFS: list[tuple[str, Callable[[StackConfig], list[str]]]] = [
    ("Cluster, GPU pool and namespace", replacement_warnings),
    ("Weights bucket", bucket_replacements),
    ("Models", model_replacements),
    ("Registry", registry_cautions),
]


def what_ifs(cfg: StackConfig) -> list[str]:
    """Every what-if line of the stack, in catalogue order."""
    return [line for _, lines in WHAT_IFS for line in lines(cfg)]


def explain_lines(cfg: StackConfig, source: str) -> list[str]:
    lines = [
        f"What a change to {source} does (ops plan --explain); `ops plan --against REF` says "
        "what one change does."
    ]
    for title, section in WHAT_IFS:
        found = section(cfg)
        if found:
            lines += ["", f"{title}:"] + [f"  - {line}" for line in found]
    return lines
