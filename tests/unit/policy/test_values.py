"""policy/values.py: reading the engine's property values, unknown ones included."""

from __future__ import annotations

from typing import Any

import pytest

from policy.values import UNKNOWN, Unknown, as_int, dig, falsy, sequence, truthy


def test_unknown_is_one_value() -> None:
    assert Unknown() is UNKNOWN and repr(UNKNOWN) == "UNKNOWN"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(2, 2), (2.0, 2), (" 3 ", 3), (True, None), (2.5, None), ("two", None), (UNKNOWN, UNKNOWN)],
)
def test_as_int_reads_what_the_engine_sends(raw: Any, expected: Any) -> None:
    assert as_int(raw) == expected


def test_dig_and_sequence_tolerate_missing_and_odd_shapes() -> None:
    assert dig({"a": {"b": 1}}, "a", "b") == 1
    assert dig({"a": [1]}, "a", "b") is None
    assert sequence("text") == () and sequence([1]) == [1]


def test_annotations_read_as_booleans() -> None:
    assert truthy(" True") and truthy(True) and not truthy("yes")
    assert falsy("false") and falsy(False) and not falsy(None)
