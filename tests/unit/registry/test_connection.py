"""DSN building and masking: passwords never reach a message."""

from __future__ import annotations

import pytest

from components.registry.connection import (
    MASK,
    build_dsn,
    dsn_database,
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
    for dsn in ("host=db password=hunter2 junk", "postgresql://u:hunter2@db:notaport/x"):
        masked = mask_dsn(dsn)
        assert "hunter2" not in masked
        assert MASK in masked


def test_scrub_removes_the_password_wherever_it_appears() -> None:
    dsn = build_dsn(
        host="db", port=5432, database="r", user="u", password=PASSWORD, sslmode="disable"
    )
    text = f"failed near '{PASSWORD}' in password={PASSWORD} and postgresql://u:abc@db/r"
    cleaned = scrub(text, dsn)
    assert PASSWORD not in cleaned
    assert "abc@" not in cleaned
    assert cleaned.count(MASK) >= 3
