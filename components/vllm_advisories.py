"""Known security advisories of vLLM, read from ``components/data/vllm/advisories.json``.

Each advisory names the versions it affects as ``[introduced, fixed)`` and its severity (the
GitHub advisory's). ``blocking`` are the critical and high ones: config refuses an image whose
version one of them affects in staging and production, and ``ops plan`` cautions in
development (``components/config/vllm_image.py``). Stdlib only, like ``vllm_contract``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Final

from components.vllm_contract import DATA_DIR, version_key

__all__ = ["ADVISORIES_FILE", "BLOCKING_SEVERITIES", "Advisory", "advisories", "affecting"]

ADVISORIES_FILE: Final = DATA_DIR / "advisories.json"
BLOCKING_SEVERITIES: Final = ("critical", "high")


@dataclass(frozen=True, slots=True)
class Advisory:
    id: str
    aliases: tuple[str, ...]
    summary: str
    introduced: str
    fixed: str
    severity: str
    source: str

    @property
    def blocking(self) -> bool:
        return self.severity in BLOCKING_SEVERITIES

    def affects(self, version: str) -> bool:
        """``version`` (``v0.11.0`` or ``0.11.0``) is in ``[introduced, fixed)``."""
        key = version_key(version)
        return version_key(self.introduced) <= key < version_key(self.fixed)


@cache
def advisories() -> tuple[Advisory, ...]:
    data = json.loads(ADVISORIES_FILE.read_text(encoding="utf-8"))
    return tuple(
        Advisory(
            id=str(a["id"]),
            aliases=tuple(a.get("aliases", ())),
            summary=str(a["summary"]),
            introduced=str(a["introduced"]),
            fixed=str(a["fixed"]),
            severity=str(a["severity"]),
            source=str(a["source"]),
        )
        for a in data["advisories"]
    )


def affecting(version: str) -> list[Advisory]:
    """The advisories that affect ``version``, most severe first."""
    order = {"critical": 0, "high": 1, "moderate": 2, "low": 3}
    found = [a for a in advisories() if a.affects(version)]
    return sorted(found, key=lambda a: (order.get(a.severity, 9), a.id))
