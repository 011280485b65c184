"""The strict types refuse what Kubernetes, LKE or vLLM refuse, and accept what they accept."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from components.config import ConfigError, load_stack_config
from components.config.quantity import QuantityError, parse_quantity
from components.config.secrets import secret_value_reason
from tests.support.stackfiles import raw_stack


def _loads(**changes: Any) -> None:
    raw = raw_stack("production")
    for path, value in changes.items():
        node: Any = raw
        *parents, last = path.split("__")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[last] = value
    load_stack_config(raw, set())


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("4", Decimal(4)),
        ("1.5Gi", Decimal(3 * 2**29)),
        ("16Gi", Decimal(16 * 2**30)),
        ("1e3", Decimal(1000)),
        ("2E", Decimal(2 * 10**18)),  # E is exa, not an exponent (as in apimachinery)
        (".5", Decimal("0.5")),
        ("100M", Decimal(10**8)),
        ("9223372036854775807", Decimal(2**63 - 1)),  # the largest Kubernetes holds
    ],
)
def test_quantities_parse_as_kubernetes_parses_them(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    "text",
    [
        *("", "Gi", "1.2.3", "1ki", "1 Gi", "e3", "1e", "0x10"),
        *("9223372036854775808", "8Ei", "1e999999", "1E99999999999999999999", "-1e999999"),
    ],
)
def test_what_is_no_quantity_is_refused(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


@pytest.mark.parametrize(
    "changes",
    [
        {"models__0__resources": {"cpu": "500m", "memory": "64Gi"}},
        {"models__0__resources": {"cpu": "12", "memory": "68719476736"}},
        {"cluster__controlPlaneAcl": ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7/32"]},
        {"registry__host": "10.0.0.5"},
        {"registry__host": "2001:db8::5"},
        {"registry__host": "registry-db.internal.example.com."},
        {"healthReporter": {"schedule": "*/5 * * * *"}},
        {"healthReporter": {"schedule": "0 3 * * 1-5"}},
        {"models__1__extraArgs": ["--max-num-batched-tokens=8192", "--max-num-seqs", "64"]},
        {"models__1__extraArgs": ["--kv-cache-dtype", "fp8", "-O3", "--enable_chunked_prefill"]},
        {
            "models__1__loraAdapters": [
                {"name": "sql-expert", "hfRepo": "org/sql-lora", "revision": "c" * 40}
            ],
            "models__1__maxLoras": 2,
            "models__1__maxLoraRank": 32,
        },
        {"models__1__extraArgs": ["--compilation-config.cudagraph_mode", "FULL"]},
        {"models__0__weightCache": {"storageClass": "linode-block-storage"}},
    ],
    ids=str,
)
def test_ordinary_values_are_accepted(changes: dict[str, Any]) -> None:
    _loads(**changes)


@pytest.mark.parametrize(
    "value",
    [
        "https://prometheus-operated.monitoring.svc:9090",
        "meta-llama/Llama-3.1-8B-Instruct",
        "sha256:014a95f21c9edf6abe0aea6b07353f96baa4ec291c427bb1176dc7c93a85845c",
        "--max-num-batched-tokens=8192",
        "git@github.com:org/repo.git",
    ],
)
def test_ordinary_strings_are_not_taken_for_secrets(value: str) -> None:
    assert secret_value_reason(value) is None


def test_a_token_like_flag_name_is_no_secret_but_its_secret_value_is() -> None:
    with pytest.raises(ConfigError, match=r"models\[1\]\.extraArgs\[1\]: carries an API key"):
        _loads(models__1__extraArgs=["--otlp-traces-endpoint", "Bearer sk-" + "x" * 24])


def test_a_token_count_is_no_secret_but_a_token_string_is() -> None:
    """models[].typicalRequestTokens is a documented key: an int there is a count."""
    raw = raw_stack("staging")
    raw["models"][0]["typicalRequestTokens"] = 1024
    assert load_stack_config(raw).config.models[0].typical_request_tokens == 1024
    raw["models"][0]["typicalRequestTokens"] = "hf_abcdefghijklmnopqrstuvwxyz0123"
    with pytest.raises(ConfigError) as info:
        load_stack_config(raw)
    assert any(i.path == "models[0].typicalRequestTokens" for i in info.value.issues)
