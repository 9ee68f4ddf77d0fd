"""Money and billing lengths as Stripe's API gives them: pure functions, no I/O.

- An amount in Stripe's API is an integer of minor units, with the currency's exponent in Stripe's API
  (``STRIPE_API_EXPONENTS``), which is not always ISO 4217's: ``minor_to_major`` gives the exact decimal.
- A billing length is the months between bills (SPEC §2), 4 decimals: ``billing_length_months``.

The target keeps its own copy of the exponent table (separate wheels); a test checks that they agree.
"""

from __future__ import annotations

from decimal import Decimal

# Stripe's API exponents: the one table of this package (Stripe's currencies page, "zero-decimal" and
# "special cases"; SPEC §2). Every currency not listed is 2, and so are ISK and UGX although they have no
# minor unit (Stripe writes 5 UGX as 500, always a multiple of 100), HUF and TWD.
STRIPE_API_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(("bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga",
                     "pyg", "rwf", "vnd", "vuv", "xaf", "xof", "xpf"), 0),
    **dict.fromkeys(("bhd", "jod", "kwd", "omr", "tnd"), 3),
}  # fmt: skip
DEFAULT_EXPONENT = 2

# Months per interval unit (SPEC §2).
_MONTHS_PER_UNIT: dict[str, Decimal] = {
    "month": Decimal(1),
    "year": Decimal(12),
    "week": Decimal(12) / Decimal("52.1775"),
    "day": Decimal(12) / Decimal("365.25"),
}
_FOUR_PLACES = Decimal("0.0001")


def currency_exponent(currency: str) -> int:
    """Decimal places of an amount in Stripe's API (``STRIPE_API_EXPONENTS``: 0, 3, else 2; ISK, UGX 2)."""
    return STRIPE_API_EXPONENTS.get(currency.strip().lower(), DEFAULT_EXPONENT)


def minor_to_major(amount_minor: int | Decimal, currency: str) -> Decimal:
    """Exact major-unit amount with exactly the currency's decimals in Stripe's API: 4990 usd → 49.90,
    5000 jpy → 5000, 500000 ugx → 5000.00."""
    exact = amount_minor if isinstance(amount_minor, Decimal) else Decimal(int(amount_minor))
    return exact.scaleb(-currency_exponent(currency))


def _plain(value: Decimal) -> Decimal:
    """A decimal without trailing zeros and never in exponent notation (12 → 12, 0.2300 → 0.23)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def billing_length_months(interval: str | None, interval_count: int | None) -> Decimal | None:
    """Months between bills, rounded to 4 decimals: interval_count x months per interval unit."""
    if interval not in _MONTHS_PER_UNIT:
        return None
    count = Decimal(int(interval_count or 1))
    return _plain((count * _MONTHS_PER_UNIT[interval]).quantize(_FOUR_PLACES))
