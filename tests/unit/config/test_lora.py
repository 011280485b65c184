"""``models[].loraAdapters``: names in one namespace with the models, revisions pinned where
nothing may move, the rank vLLM accepts, and the LoRA flags managed by the platform."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import ConfigError, load_stack_config
from tests.support.stackfiles import raw_stack

COMMIT = "c" * 40


def adapter(name: str = "sql-expert", revision: str = COMMIT, **more: Any) -> dict[str, Any]:
    return {"name": name, "hfRepo": "org/sql-lora", "revision": revision, **more}


def _issue(raw: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(ConfigError) as info:
        load_stack_config(raw)
    (issue,) = info.value.issues
    return issue.path, issue.message


def _with(stack: str, index: int = 0, **keys: Any) -> dict[str, Any]:
    raw = raw_stack(stack)
    raw["models"][index].update(keys)
    return raw


def test_adapters_are_accepted_with_vllms_defaults() -> None:
    raw = _with("production", loraAdapters=[adapter(), adapter("chat-support")])
    model = load_stack_config(raw).config.models[0]
    assert [a.name for a in model.lora_adapters] == ["sql-expert", "chat-support"]
    assert model.lora_slots == 2 and model.max_lora_rank == 16


@pytest.mark.parametrize(
    ("edit", "path", "says"),
    [
        (
            lambda r: r["models"][1].update(loraAdapters=[adapter(r["models"][0]["name"])]),
            "models[1].loraAdapters[0].name",
            "is already used by models[0]",
        ),
        (
            lambda r: (
                r["models"][0].update(loraAdapters=[adapter("shared")]),
                r["models"][1].update(loraAdapters=[adapter("shared")]),
            ),
            "models[1].loraAdapters[0].name",
            "is already used by models[0].loraAdapters[0]",
        ),
        (
            lambda r: r["models"][1].update(loraAdapters=[adapter("x"), adapter("x")]),
            "models[1].loraAdapters[1].name",
            "'x' is already loraAdapters[0]",
        ),
        (
            lambda r: r["models"][1].update(loraAdapters=[adapter(r["models"][1]["name"])]),
            "models[1].loraAdapters[0].name",
            "the base model's name",
        ),
        (
            lambda r: r["models"][1].update(loraAdapters=[adapter("SQL_expert")]),
            "models[1].loraAdapters[0].name",
            "should match pattern",
        ),
        (
            lambda r: r["models"][1].update(loraAdapters=[adapter(revision="main")]),
            "models[1].loraAdapters[0].revision",
            "production requires a pinned revision (a 40-character commit hash), got 'main'",
        ),
        (
            lambda r: r["models"][1].update(loraAdapters=[adapter()], maxLoraRank=24),
            "models[1].maxLoraRank",
            "vLLM v0.32.0 accepts 1, 8, 16, 32, 64, 128, 256, 320, 512; got 24",
        ),
        (
            lambda r: r["models"][1].update(maxLoras=2),
            "models[1].maxLoras",
            "only with loraAdapters",
        ),
        (
            lambda r: r["models"][1].update(loraAdapters=[adapter()], maxLoras=0),
            "models[1].maxLoras",
            "greater than or equal to 1",
        ),
        (
            lambda r: r["models"][1].update(loraAdapters=[adapter(hfRepository="org/x")]),
            "models[1].loraAdapters[0].hfRepository",
            "unknown key (did you mean hfRepo?)",
        ),
        (
            lambda r: r["models"][1].update(extraArgs=["--enable-lora"]),
            "models[1].extraArgs[0]",
            "managed by the platform (set from loraAdapters)",
        ),
        (
            lambda r: r["models"][1].update(extraArgs=["--lora-modules", "a=other/lora"]),
            "models[1].extraArgs[0]",
            "managed by the platform",
        ),
        (
            lambda r: r["models"][1].update(extraArgs=["--max_lora_r=32"]),
            "models[1].extraArgs[0]",
            "(vLLM reads it as --max-lora-rank)",
        ),
    ],
)
def test_a_bad_adapter_is_refused_at_its_key(edit: Any, path: str, says: str) -> None:
    raw = raw_stack("production")
    edit(raw)
    where, message = _issue(raw)
    assert where == path and says in message, (where, message)


def test_development_may_follow_an_adapters_branch() -> None:
    raw = _with("development", loraAdapters=[adapter(revision="main")], maxLoraRank=24)
    with pytest.raises(ConfigError, match="maxLoraRank"):  # the rank is vLLM's, everywhere
        load_stack_config(raw)
    raw["models"][0]["maxLoraRank"] = 32
    assert load_stack_config(raw).config.models[0].lora_adapters[0].revision == "main"


def test_adapters_need_the_init_container_that_fetches_them() -> None:
    raw = _with("development", loraAdapters=[adapter()], extraArgs=["--tokenizer", "o/r"])
    assert _issue(raw) == (
        "models[0].loraAdapters",
        "adapters are served only from what the fetch-weights init container fetched, and "
        "extraArgs --tokenizer turn it off (components/planning/timing.py)",
    )
