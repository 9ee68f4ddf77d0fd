"""Canonical values: amounts with the currency's decimals, lengths without trailing zeros, times."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from target_kissmetrics.formatting import (
    currency_decimals,
    format_amount,
    format_length,
    format_text,
    to_unix_seconds,
)


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (Decimal("49.9"), "usd", "49.90"),
        (49.9, "USD", "49.90"),
        (0.1 + 0.2, "usd", "0.30"),  # str(0.30000000000000004) then the currency's decimals
        (5000, "jpy", "5000"),
        (Decimal("5000.0"), "JPY", "5000"),
        (Decimal("12.345"), "kwd", "12.345"),
        (Decimal("12.3"), "kwd", "12.300"),
        ("7", "eur", "7.00"),
        (Decimal("0"), "usd", "0.00"),
        (Decimal("1234567.5"), "isk", "1234567.50"),  # ISK: 2, as Stripe does
    ],
)
def test_amounts(value: object, currency: str, expected: str) -> None:
    assert format_amount(value, currency) == expected


def test_negated_amounts() -> None:
    assert format_amount(Decimal("49.9"), "usd", negate=True) == "-49.90"
    assert format_amount(5000, "jpy", negate=True) == "-5000"
    assert format_amount(0, "usd", negate=True) == "0.00"  # never "-0.00"


@pytest.mark.parametrize("bad", ["abc", "", None, True, float("nan"), [1]])
def test_non_numeric_amounts_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        format_amount(bad, "usd")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "1"),
        (Decimal("12.0"), "12"),
        (Decimal("0.2300"), "0.23"),
        (0.2301, "0.2301"),
        (10, "10"),
        (0, "0"),
    ],
)
def test_lengths(value: object, expected: str) -> None:
    assert format_length(value) == expected


def test_currency_decimals() -> None:
    assert [currency_decimals(c) for c in ("JPY", "krw", "BHD", "tnd", "USD", "ISK")] == [0, 0, 3, 3, 2, 2]


def test_times() -> None:
    assert to_unix_seconds("2024-03-01T12:00:00Z") == 1709294400
    assert to_unix_seconds("2024-03-01T13:00:00+01:00") == 1709294400
    assert to_unix_seconds(datetime(2024, 3, 1, 12, tzinfo=timezone.utc)) == 1709294400
    assert to_unix_seconds(datetime(2024, 3, 1, 12)) == 1709294400  # naive means UTC
    assert to_unix_seconds(1709294400) == 1709294400
    with pytest.raises(ValueError):
        to_unix_seconds("yesterday")


def test_text() -> None:
    assert format_text(True) == "true"
    assert format_text(Decimal("1.50")) == "1.50"
    assert format_text(datetime(2024, 3, 1, 12, tzinfo=timezone.utc)) == "2024-03-01T12:00:00Z"
