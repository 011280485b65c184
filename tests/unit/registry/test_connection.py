"""DSN building and masking: passwords never reach a message."""

from __future__ import annotations

import pytest

from components.registry.connection import (
    MASK,
    UNPARSED,
    build_dsn,
    dsn_database,
    dsn_parse_error,
    dsn_password,
    mask_dsn,
    scrub,
)

PASSWORD = "s3cr'et pass=word@x"


def test_build_dsn_quotes_every_value_so_it_round_trips() -> None:
    dsn = build_dsn(
        host="db.internal", port=6432, database="model_registry", user="owner",
        password=PASSWORD, sslmode="require",
    )  # fmt: skip
    assert dsn_password(dsn) == PASSWORD
    assert dsn_database(dsn) == "model_registry"


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [  # a password without a user is dropped from the display altogether
        ("postgresql://owner:hunter2@db:5432/reg", "postgresql://owner:***@db:5432/reg"),
        ("postgresql://owner@db/reg", "postgresql://owner@db/reg"),
        (
            "host=db port=5432 dbname=reg user=owner password=hunter2 sslmode=require",
            "postgresql://owner:***@db:5432/reg?sslmode=require",
        ),
        ("host=db dbname=reg password='hunter 2'", "postgresql://db/reg"),
    ],
)
def test_mask_dsn_hides_the_password(dsn: str, expected: str) -> None:
    masked = mask_dsn(dsn)
    assert "hunter" not in masked
    assert masked == expected


def test_mask_dsn_hides_the_password_of_a_dsn_that_does_not_parse() -> None:
    """Where a password ends in a DSN that does not parse cannot be told ('hunter 2 with
    spaces', bad percent-encoding): such a DSN is not shown at all. (A port that is no number
    parses; libpq refuses it only when connecting.)"""
    assert MASK in mask_dsn("postgresql://u:hunter2@db:notaport/x")
    for dsn in (
        "host=db password=hunter2 junk",
        "host=db password='hunter 2",
        "postgresql://u:hunter%zz2@db/x",
    ):
        assert mask_dsn(dsn) == UNPARSED


def test_why_a_dsn_does_not_parse_says_nothing_of_its_text() -> None:
    assert dsn_parse_error("host=db password=hunter 2 dbname=x") == (
        f'missing "=" after "{MASK}" in connection info string'
    )
    assert dsn_parse_error("postgresql://u:hunter%zz@db/x") == (
        f'invalid percent-encoded token: "{MASK}"'
    )
    assert dsn_parse_error("host=db password='hunter 2") is not None
    assert dsn_parse_error("host=db dbname=x") is None


def test_scrub_removes_the_password_wherever_it_appears() -> None:
    dsn = build_dsn(
        host="db", port=5432, database="r", user="u", password=PASSWORD, sslmode="disable"
    )
    text = f"failed near '{PASSWORD}' in password={PASSWORD} and postgresql://u:abc@db/r"
    cleaned = scrub(text, dsn)
    assert PASSWORD not in cleaned
    assert "abc@" not in cleaned
    assert cleaned.count(MASK) >= 3
