"""A model's LoRA adapters as the cluster gets them: the server's flags (offline paths on the
weight cache), the init container fetching each at its revision, and a smoke request per
adapter on every replica."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from components.config import ModelConfig
from components.manifests.vllm.args import CACHE_MOUNT
from components.manifests.vllm.prefetch import FETCH_CONTAINER
from components.manifests.vllm.smoke import smoke_job
from components.manifests.vllm.workload import workload
from tests.unit.manifests.vllm.support import container, stack
from tests.unit.manifests.vllm.test_smoke_script import POD, run_smoke

ADAPTERS = [
    {"name": "sql-expert", "hfRepo": "org/sql-lora", "revision": "c" * 40},
    {"name": "support-bot", "hfRepo": "org/support-lora", "revision": "d" * 40},
]


def _env(c: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in c["env"]}


def _served(**keys: Any) -> tuple[ModelConfig, dict[str, Any]]:
    cfg, m, plan = stack(loraAdapters=ADAPTERS, max_nodes=9, **keys)
    return m, workload(cfg, m, plan)


def test_the_server_serves_each_adapter_from_the_weight_cache_offline() -> None:
    m, server = _served(maxLoraRank=64)
    c = container(server)
    args = c["args"]
    lora = args[args.index("--enable-lora") :]
    base = f"{CACHE_MOUNT}/lora/{m.name}"
    assert lora[:7] == [
        "--enable-lora",
        "--max-loras",
        "2",
        "--max-lora-rank",
        "64",
        "--lora-modules",
        f"sql-expert={base}/sql-expert/{'c' * 40}",
    ]
    assert lora[7] == f"support-bot={base}/support-bot/{'d' * 40}"
    env = _env(c)
    assert env["HF_HUB_OFFLINE"] == "1"
    assert "VLLM_ALLOW_RUNTIME_LORA_UPDATING" not in env  # no /v1/load_lora_adapter


def test_the_init_container_fetches_each_adapter_where_the_server_reads_it() -> None:
    _, server = _served()
    (fetch,) = [
        c
        for c in server["spec"]["template"]["spec"]["initContainers"]
        if c["name"] == FETCH_CONTAINER
    ]
    adapters = json.loads(_env(fetch)["LORA_ADAPTERS"])
    args = container(server)["args"]
    modules = args[args.index("--lora-modules") + 1 : args.index("--lora-modules") + 3]
    assert [
        f"{n}={a['path']}" for n, a in zip(["sql-expert", "support-bot"], adapters, strict=True)
    ] == modules
    assert [(a["repo"], a["revision"]) for a in adapters] == [
        ("org/sql-lora", "c" * 40),
        ("org/support-lora", "d" * 40),
    ]


def test_no_adapters_no_lora_flags() -> None:
    cfg, m, plan = stack()
    server = workload(cfg, m, plan)
    assert not any("lora" in a for a in container(server)["args"])
    inits = server["spec"]["template"]["spec"]["initContainers"]
    (fetch,) = [c for c in inits if c["name"] == "fetch-weights"]
    assert "LORA_ADAPTERS" not in _env(fetch)


def _job(replicas: int = 2) -> dict[str, Any]:
    cfg, m, plan = stack(loraAdapters=ADAPTERS, replicas=replicas, max_nodes=9)
    return smoke_job(cfg, m, workload(cfg, m, plan))


def test_every_replica_answers_for_the_base_model_and_each_adapter(tmp_path: Path) -> None:
    rc, out, _ = run_smoke(tmp_path, _job(2))
    assert rc == 0, out
    asked = (tmp_path / "asked.log.models").read_text().split()
    names = ["llama-3-3-70b-instruct", "sql-expert", "support-bot"]
    assert asked == [f"{POD.format(i)}/{n}" for i in range(2) for n in names]


def test_an_adapter_one_replica_cannot_serve_fails_the_test(tmp_path: Path) -> None:
    rc, out, _ = run_smoke(tmp_path, _job(2), answers=f"{POD.format(1)}/support-bot=404")
    assert rc == 1, out
    assert f"replica {POD.format(1)} FAILED: HTTP 404" in out and "for model support-bot" in out
    assert "1 of 2 replica(s) did not answer" in out
