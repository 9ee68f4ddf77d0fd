"""Currency exponents, major-unit amounts, billing lengths and ISO timestamps (pure functions)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

# The stand-in's own copy of Stripe's API exponents (Stripe's currencies page; SPEC §2): 0 and 3 as listed,
# every other currency 2, ISK and UGX included (no minor unit, written as a multiple of 100).
ZERO_DECIMAL = frozenset(
    ["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "vnd", "vuv", "xaf", "xof", "xpf"]
)
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])
# Two-decimal in the API but with no minor unit: Stripe takes only multiples of 100.
WHOLE_UNITS_ONLY = frozenset(["isk", "ugx"])

_MONTHS_PER_UNIT = {
    "month": Decimal(1),
    "year": Decimal(12),
    "week": Decimal(12) / Decimal("52.1775"),
    "day": Decimal(12) / Decimal("365.25"),
}
_FOUR_PLACES = Decimal("0.0001")


def exponent(currency: str) -> int:
    cur = currency.lower()
    if cur in ZERO_DECIMAL:
        return 0
    if cur in THREE_DECIMAL:
        return 3
    return 2


def whole(amount_minor: int, currency: str) -> int:
    """An amount Stripe accepts in ``currency``: a multiple of 100 for ISK and UGX, else as is."""
    if currency.lower() in WHOLE_UNITS_ONLY:
        return round(amount_minor / 100) * 100
    return amount_minor


def to_major(amount_minor: int | Decimal, currency: str) -> Decimal:
    """``amount_minor`` in major units, with exactly the currency's decimals (``Decimal('49.90')``)."""
    return Decimal(amount_minor).scaleb(-exponent(currency))


def billing_length_months(interval: str, interval_count: int) -> Decimal:
    """interval_count x {month 1, year 12, week 12/52.1775, day 12/365.25}, rounded to 4 places."""
    return (Decimal(interval_count) * _MONTHS_PER_UNIT[interval]).quantize(_FOUR_PLACES)


def iso(ts: int) -> str:
    """Unix seconds as ``2026-10-03T12:00:00+00:00``."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()
