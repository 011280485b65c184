"""What a model's vLLM image version allows: a contract to judge it by, and no known critical
or high advisory.

The version is the image tag's (``components/vllm_contract.py`` ``image_version``). Staging and
production refuse an image whose version has no contract data here (its flags, metric names and
API-key routes were never recorded, so nothing checked them) and an image that a critical or
high advisory in ``components/data/vllm/advisories.json`` affects, naming the release that
fixes it. Development accepts both with a caution in ``ops plan``: extraArgs are then judged
by the newest contract, and a laptop cluster may run an old image on purpose.
"""

from __future__ import annotations

from collections.abc import Sequence

from components.vllm_advisories import ADVISORIES_FILE, Advisory, affecting
from components.vllm_contract import image_version, newest_version, version_for_image, version_key

__all__ = ["image_cautions", "image_issue"]

_ADD_VERSION = "python3 tools/vllm_version.py <version>"


def _no_contract(image: str) -> str:
    version = image_version(image)
    if version is None:
        return (
            f"no vLLM flag contract for image {image!r}: its tag names no vLLM version "
            "(write vllm/vllm-openai:vX.Y.Z[@sha256:...])"
        )
    return (
        f"no vLLM flag contract for image {image!r}: vLLM {version} has no data in "
        f"components/data/vllm/ (add it with {_ADD_VERSION.replace('<version>', version[1:])})"
    )


def _listed(found: list[Advisory]) -> str:
    return ", ".join(f"{a.id} ({a.severity}, fixed in {a.fixed})" for a in found)


def _advisory_issue(version: str) -> str | None:
    blocking = [a for a in affecting(version) if a.blocking]
    if not blocking:
        return None
    fixed = max((a.fixed for a in blocking), key=version_key)
    return (
        f"vLLM {version} has known critical/high advisories: {_listed(blocking)}; move to vLLM "
        f"{fixed} or later (details: {ADVISORIES_FILE.relative_to(ADVISORIES_FILE.parents[3])})"
    )


def image_issue(image: str, environment: str) -> str | None:
    """Why staging or production refuse ``image`` (``None``: they accept it; development
    always does, see ``image_cautions``)."""
    if environment not in ("staging", "production"):
        return None
    version = version_for_image(image)
    if version is None:
        return f"{_no_contract(image)}; {environment} runs only versions with a contract"
    advisory = _advisory_issue(version)
    if advisory is not None:
        return advisory
    return None


def image_cautions(images: Sequence[str], environment: str) -> list[str]:
    """``ops plan`` cautions for ``models[].image`` (in order): an image without a contract
    (development; staging and production refuse it), a critical/high advisory (development), a
    moderate or low one (everywhere)."""
    out: list[str] = []
    for i, image in enumerate(images):
        version = version_for_image(image)
        if version is None:
            out.append(
                f"models[{i}].image: {_no_contract(image)}; extraArgs checked against vLLM "
                f"{newest_version()}"
            )
            continue
        blocking = _advisory_issue(version)
        if blocking is not None and environment == "development":
            out.append(f"models[{i}].image: {blocking} (staging and production refuse it)")
        minor = [a for a in affecting(version) if not a.blocking]
        if minor:
            out.append(f"models[{i}].image: vLLM {version} has known advisories: {_listed(minor)}")
    return out
