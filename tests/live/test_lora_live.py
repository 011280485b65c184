"""The rendered model that serves a LoRA adapter (tiny-base in tests/live/Pulumi.live.yaml),
run by vLLM's CPU build: the adapter is listed and answers by its name, read offline from the
path the init container fetches it to, and the rendered smoke script passes for the base model
and the adapter. Runs after test_live_server.py (conftest ``lora`` stops tiny-chat first).
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.live.conftest import RESULTS, Run
from tests.live.test_live_server import run_smoke

pytestmark = pytest.mark.live


def _post(run: Run, path: str, body: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [
            *("curl", "--silent", "--fail-with-body", "--max-time", "60"),
            *("-H", f"Authorization: Bearer {run.key}", "-H", "Content-Type: application/json"),
            *("--data", json.dumps(body), run.url("http", path)),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=90,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_the_server_serves_the_lora_adapter_by_name_offline(lora: Run) -> None:
    (name,) = lora.container.lora_modules()
    listed = json.loads(
        subprocess.run(
            [
                "curl",
                "--silent",
                "--fail",
                "-H",
                f"Authorization: Bearer {lora.key}",
                lora.url("http", "/v1/models"),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
    )
    parents = {m["id"]: m.get("parent") for m in listed["data"]}
    assert parents.get(name) == "tiny-base", parents
    prompt = [{"role": "user", "content": "what is your name"}]
    answers = {
        model: _post(
            lora,
            "/v1/chat/completions",
            {"model": model, "messages": prompt, "max_tokens": 8, "temperature": 0},
        )
        for model in ("tiny-base", name)
    }
    assert answers[name]["model"] == name
    texts = {m: a["choices"][0]["message"]["content"] for m, a in answers.items()}
    RESULTS["lora_answer_differs_from_base"] = texts[name] != texts["tiny-base"]


def test_the_rendered_smoke_script_passes_for_the_model_and_its_adapter(lora: Run) -> None:
    out = run_smoke(lora)
    assert out.startswith("exit 0\n") and "smoke test passed" in out, out
    for name in ("tiny-base", *lora.container.lora_modules()):
        assert f"for model {name} " in out, (name, out)


def test_the_smoke_script_fails_for_an_adapter_the_server_does_not_serve(lora: Run) -> None:
    payloads = lora.rendered.smoke(lora.model).env_value("SMOKE_PAYLOADS").splitlines()
    wrong = json.loads(payloads[-1])
    wrong["model"] = "not-" + wrong["model"]
    out = run_smoke(lora, "\n".join([*payloads, json.dumps(wrong)]))
    assert out.startswith("exit 1\n") and "FAILED: HTTP 404" in out, out
    assert f"for model {wrong['model']} " in out, out
