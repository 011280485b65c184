"""Nothing moving in staging and production (components/config/pinning.py): every flag that makes
vLLM read another source is refused however it is spelled, and what is accepted is served
offline from the revision the init container fetched."""

from __future__ import annotations

import pytest

from components.config import ConfigError, load_stack_config
from components.config.pinning import OTHER_SOURCE_FLAGS
from components.contract import PINNED_ENVIRONMENTS
from components.planning.timing import prefetches_weights
from tests.support.stackfiles import raw_stack, stack_config


def _spellings(flag: str) -> list[list[str]]:
    underscored = "--" + flag[2:].replace("-", "_")
    return [[flag, "x"], [f"{underscored}=x"], [flag[: len(flag) - 2], "x"]]


@pytest.mark.parametrize("flag", sorted(OTHER_SOURCE_FLAGS))
@pytest.mark.parametrize("environment", sorted(PINNED_ENVIRONMENTS))
def test_every_flag_that_reads_another_source_is_refused_in_every_spelling(
    flag: str, environment: str
) -> None:
    for args in _spellings(flag):
        raw = raw_stack(environment)
        raw["models"][1]["extraArgs"] = [*raw["models"][1].get("extraArgs", []), *args]
        with pytest.raises(ConfigError) as info:
            load_stack_config(raw, set())
        (issue,) = info.value.issues
        assert issue.path.startswith("models[1].extraArgs["), issue
        # (a flag this vLLM version no longer has is refused as unknown)
        reasons = (f"refused in {environment}", "ambiguous", "is not a `vllm serve` flag")
        assert any(r in issue.message for r in reasons), issue


@pytest.mark.parametrize("environment", sorted(PINNED_ENVIRONMENTS))
def test_every_model_where_nothing_may_move_is_prefetched_and_served_offline(
    environment: str,
) -> None:
    assert all(prefetches_weights(m) for m in stack_config(environment).models)
