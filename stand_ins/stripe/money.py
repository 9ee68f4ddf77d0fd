"""Currency exponents, major-unit amounts, billing lengths and ISO timestamps (pure functions)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])

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


def to_major(amount_minor: int, currency: str) -> Decimal:
    """``amount_minor`` in major units, with exactly the currency's decimals (``Decimal('49.90')``)."""
    return Decimal(amount_minor).scaleb(-exponent(currency))


def billing_length_months(interval: str, interval_count: int) -> Decimal:
    """interval_count x {month 1, year 12, week 12/52.1775, day 12/365.25}, rounded to 4 places."""
    return (Decimal(interval_count) * _MONTHS_PER_UNIT[interval]).quantize(_FOUR_PLACES)


def iso(ts: int) -> str:
    """Unix seconds as ``2026-10-03T12:00:00+00:00``."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()
