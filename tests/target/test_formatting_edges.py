"""Edges of the canonical formatting (found by mutation testing, ``scripts/mutation.sh``): the exact
refusal messages (they reach the run summary), half-up rounding, naive datetimes in a non-UTC zone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from target_kissmetrics.formatting import format_amount, format_text, to_decimal, to_unix_seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "a boolean is not a number"),
        ("abc", "not a number"),
        ([1], "a list is not a number"),
        (None, "a NoneType is not a number"),
        (float("nan"), "not a finite number"),
        ("Infinity", "not a finite number"),
    ],
)
def test_numbers_refused_with_their_reason(value: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        to_decimal(value)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (False, "a boolean is not a time"),
        ("yesterday", "not an ISO 8601 date-time"),
        ([2024], "a list is not a time"),
    ],
)
def test_times_refused_with_their_reason(value: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        to_unix_seconds(value)
    assert str(info.value) == message


def test_amounts_round_half_up() -> None:
    assert format_amount(Decimal("0.125"), "usd") == "0.13"  # half-even would give 0.12
    assert format_amount(Decimal("2.5"), "jpy") == "3"
    assert format_amount(Decimal("-0.125"), "usd") == "-0.13"
    assert format_amount(Decimal("0.0005"), "kwd") == "0.001"


def test_times_with_a_lower_case_z_and_numbers() -> None:
    assert to_unix_seconds("2024-03-01T12:00:00z") == 1709294400
    assert to_unix_seconds(Decimal("1709294400.9")) == 1709294400
    assert to_unix_seconds(1709294400.2) == 1709294400


def test_text_of_booleans_floats_and_naive_datetimes(new_york: None) -> None:
    assert format_text(False) == "false"
    assert format_text(0.1) == "0.1"
    assert format_text(2.50) == "2.5"
    assert format_text("Pro (2025)") == "Pro (2025)"
    assert format_text(7) == "7"
    assert format_text(datetime(2024, 3, 1, 12)) == "2024-03-01T12:00:00Z"  # naive means UTC, not local
    plus_one = datetime(2024, 3, 1, 13, tzinfo=timezone(timedelta(hours=1)))
    assert format_text(plus_one) == "2024-03-01T12:00:00Z"  # converted to UTC, not relabelled
