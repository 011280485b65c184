"""Nothing moving in staging and production: a release image, the model at a commit, and no
extra flag that makes vLLM run code, a tokenizer or weights other than that commit's, which the
fetch-weights init container fetched and the server then reads offline (docs/vllm-contract.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from components.contract import PINNED_ENVIRONMENTS, image_is_pinned
from components.vllm_contract import VllmContract, looks_like_value

# Flags that make vLLM read another repository (or other files) than the model's pinned
# revision: the init container fetches only that revision, so with any of them the model is not
# prefetched and vLLM downloads online (development only). Flag -> what it would read.
OTHER_SOURCE_FLAGS: Final = {
    "--load-format": "weights in a format the init container does not choose (or none at all)",
    "--tokenizer": "a tokenizer from another repository or path",
    "--tokenizer-revision": "the tokenizer at another revision (vLLM defaults it to --revision)",
    "--hf-config-path": "the model config from another repository",
    "--speculative-config": "a draft model from another repository",
    # vLLM 0.32.0's shorthand for --speculative-config's model (engine/arg_utils.py:1832, 2070);
    # a version without it resolves to no option and is skipped.
    "--spec-model": "a draft model from another repository",
    "--qlora-adapter-name-or-path": "a QLoRA adapter from another repository",
}
_COMMIT: Final = re.compile(r"[0-9a-f]{40}")


def pinned_issue(
    env: str, image: str, revision: str, extra_args: Sequence[str], contract: VllmContract
) -> tuple[str, str] | None:
    """The first moving part of a staging/production model as ``(key, message)``, else None."""
    if not image_is_pinned(image):
        return "image", (
            f"{env} requires a pinned image: a release tag (a version number and no moving word "
            f"such as latest, nightly or main, in any case) or an @sha256 digest, got {image!r}"
        )
    revision_issue = pinned_revision_issue(env, revision)
    if revision_issue is not None:
        return "revision", revision_issue
    found = _moving_arg(revision, extra_args, contract)
    if found is None:
        return None
    index, reason = found
    return f"extraArgs[{index}]", f"refused in {env}: {reason}"


def pinned_revision_issue(env: str | None, revision: str) -> str | None:
    """In staging/production, a revision that is not a commit (a branch or tag moves)."""
    if env not in PINNED_ENVIRONMENTS or _COMMIT.fullmatch(revision):
        return None
    return f"{env} requires a pinned revision (a 40-character commit hash), got {revision!r}"


def _moving_arg(
    revision: str, args: Sequence[str], contract: VllmContract
) -> tuple[int, str] | None:
    """The first flag of ``args`` (resolved as vLLM resolves it: abbreviations, ``_``, ``=``)
    that makes vLLM read something other than the model at ``revision``."""
    other = {contract.resolve(f).option: why for f, why in OTHER_SOURCE_FLAGS.items()}
    for index, token in enumerate(args):
        if looks_like_value(token):
            continue
        res = contract.resolve(token)
        option = res.option
        if option is None:
            continue
        value = res.inline if res.inline is not None else _next(args, index)
        name = option.option_strings[0]
        if option.dest == "load_format" and (value or "").lower() == "dummy":
            # vLLM lower-cases the format (vllm/config/load.py:107 at v0.11.0).
            return index, (
                f"{name} dummy serves random weights, which pass the smoke test; serve the "
                "pinned revision's weights"
            )
        if option in other:
            return index, (
                f"{name} makes vLLM read {other[option]}, which the fetch-weights init "
                "container does not fetch at the pinned revision (fetching a second repository "
                "is not supported; the server reads only the pinned revision, offline)"
            )
        if option.dest == "code_revision" and value != revision:
            return index, (
                f"{name} {value!r} runs remote code from another revision than the pinned "
                f"{revision}; leave it out (vLLM then uses --revision) or give that commit"
            )
    return None


def _next(args: Sequence[str], index: int) -> str | None:
    nxt = index + 1
    return args[nxt] if nxt < len(args) and looks_like_value(args[nxt]) else None
