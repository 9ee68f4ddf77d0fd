"""Stripe's API currency exponents (Stripe's currencies page, SPEC §2), pinned in each package that keeps a
table of them (the tap, the target, the Stripe stand-in's oracle), and the tables checked to agree.

Stripe's page: "to charge 10 USD, provide an amount value of 1000"; zero-decimal currencies (¥500 is
``500``); three-decimal currencies (5.124 KWD is ``5124``); special cases: ISK and UGX have no minor unit
but Stripe's API takes them as two-decimal amounts that are multiples of 100 (5 ISK is ``500``), and HUF
and TWD are two-decimal.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from tap_stripe_billing import money as tap_money
from target_kissmetrics import formatting

from stand_ins.stripe import money

# (currency, amount in Stripe's API, major units, as written to KISSmetrics)
VECTORS = [
    ("usd", 1000, "10.00", "10.00"),
    ("eur", 4990, "49.90", "49.90"),
    ("jpy", 500, "500", "500"),
    ("krw", 12000, "12000", "12000"),
    ("clp", 990, "990", "990"),
    ("xof", 5000, "5000", "5000"),
    ("kwd", 5124, "5.124", "5.124"),
    ("bhd", 12345, "12.345", "12.345"),
    ("tnd", 1000, "1.000", "1.000"),
    ("isk", 500, "5.00", "5"),
    ("isk", 1234550, "12345.50", "12345.50"),  # an old ISK charge with a fraction: exactly
    ("ugx", 500000, "5000.00", "5000"),
    ("ugx", 100, "1.00", "1"),
    ("huf", 500, "5.00", "5.00"),
    ("huf", 129900, "1299.00", "1299.00"),
    ("twd", 1000, "10.00", "10.00"),
]
ZERO = [
    "BIF",
    "CLP",
    "DJF",
    "GNF",
    "JPY",
    "KMF",
    "KRW",
    "MGA",
    "PYG",
    "RWF",
    "VND",
    "VUV",
    "XAF",
    "XOF",
    "XPF",
]
THREE = ["BHD", "JOD", "KWD", "OMR", "TND"]
TWO = ["USD", "EUR", "GBP", "ISK", "UGX", "HUF", "TWD", "CHF", "MXN", "INR", "IDR", "AED"]


@pytest.mark.parametrize(("currency", "minor", "major", "written"), VECTORS)
def test_each_package_follows_stripes_vectors(currency: str, minor: int, major: str, written: str) -> None:
    tap_major = tap_money.minor_to_major(minor, currency)
    assert str(tap_major) == major
    assert str(money.to_major(minor, currency)) == major  # the stand-in's oracle, its own copy
    assert formatting.format_amount(tap_major, currency) == written
    assert formatting.format_amount(tap_major, currency.upper(), negate=True) == "-" + written


def test_the_tables_agree_with_stripes_lists_and_each_other() -> None:
    for codes, exponent in ((ZERO, 0), (THREE, 3), (TWO, 2)):
        for code in codes:
            assert tap_money.currency_exponent(code) == exponent, code
            assert tap_money.currency_exponent(code.lower()) == exponent, code
            assert formatting.currency_decimals(code) == exponent, code
            assert money.exponent(code) == exponent, code
    tap = tap_money.STRIPE_API_EXPONENTS
    target = {code.lower(): places for code, places in formatting.STRIPE_API_EXPONENTS.items()}
    assert tap == target
    assert set(tap) == {c.lower() for c in ZERO + THREE}
    assert tap_money.DEFAULT_EXPONENT == formatting.DEFAULT_EXPONENT == 2


def test_the_display_rule_for_currencies_with_no_minor_unit() -> None:
    assert {"ISK", "UGX"} == formatting.NO_MINOR_UNIT_DISPLAY
    assert formatting.display_decimals(Decimal("5000.00"), "ugx") == 0
    assert formatting.display_decimals(Decimal("5000.50"), "ISK") == 2
    assert formatting.display_decimals(Decimal("5000.00"), "huf") == 2
    assert formatting.format_amount(Decimal("0.00"), "isk") == "0"
    assert formatting.format_amount(Decimal("5000.004"), "ugx") == "5000"
