"""The ``vllm serve`` options ``extraArgs`` may pass, reviewed per vLLM version.

``components/config/vllm_args.py`` refuses the options the platform sets (``MANAGED_DESTS``)
and those that bypass or break what it sets (``REFUSED_DESTS``). Every other dest a contract
version knows is listed, after a review, in ``components/data/vllm/reviewed-dests.json``.
``tests/unit/test_vllm_versions.py`` fails when a contract version has a dest in none of the
three (a new flag nobody looked at, which might serve another protocol, open a port or add an
endpoint the API key does not guard) and when a guarded dest disappears from a newer version
without a ``removed`` entry (the guard would silently guard nothing). An option whose dest is
in none of the three is refused at run time too, so a version added without a review cannot
pass an unknown flag.
"""

from __future__ import annotations

import json
from typing import Final

from components.vllm_contract import DATA_DIR

__all__ = ["ALLOWED_DESTS", "REMOVED_DESTS", "REVIEWED_FOR"]

_DATA = json.loads((DATA_DIR / "reviewed-dests.json").read_text(encoding="utf-8"))

ALLOWED_DESTS: Final[frozenset[str]] = frozenset(_DATA["allowed"])
# Guarded dests a newer contract version no longer has -> the version since when, and why.
REMOVED_DESTS: Final[dict[str, dict[str, str]]] = dict(_DATA["removed"])
REVIEWED_FOR: Final[tuple[str, ...]] = tuple(_DATA["reviewed_for"])
