"""Canonical text for values sent to KISSmetrics: the same input always gives the same characters.

Numbers are handled as :class:`decimal.Decimal` (floats through ``str()``, never through binary), so
``49.9`` is written ``49.90`` in USD, ``5000`` in JPY, ``12.345`` in KWD, ``5000`` in UGX.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# Stripe's API exponents: the one table of this package (Stripe's currencies page, "zero-decimal" and
# "special cases"). Every currency not listed is 2, and so are ISK and UGX (two-decimal in Stripe's API
# although they have no minor unit), HUF and TWD.
STRIPE_API_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA",
                     "PYG", "RWF", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "JOD", "KWD", "OMR", "TND"), 3),
}  # fmt: skip
DEFAULT_EXPONENT = 2
# Display rule: currencies with no minor unit that Stripe's API writes with two decimals. They are shown
# with no decimals, unless an amount has a fraction (old ISK charges may): then exactly, with two.
NO_MINOR_UNIT_DISPLAY = frozenset(["ISK", "UGX"])
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def currency_decimals(currency: str) -> int:
    """Decimals of an amount in Stripe's API (case-insensitive): 0, 3, else 2 (ISK and UGX: 2)."""
    return STRIPE_API_EXPONENTS.get(currency.strip().upper(), DEFAULT_EXPONENT)


def display_decimals(amount: Decimal, currency: str) -> int:
    """Decimals an amount is written with: the currency's (``currency_decimals``), except for the
    ``NO_MINOR_UNIT_DISPLAY`` currencies, written with none unless the amount has a fraction."""
    places = currency_decimals(currency)
    if currency.strip().upper() in NO_MINOR_UNIT_DISPLAY and amount == amount.to_integral_value():
        return 0
    return places


def to_decimal(value: object) -> Decimal:
    """An exact Decimal from a record value, or ValueError for anything that is not a finite number."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(str(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError("not a number") from None
    else:
        raise ValueError(f"a {type(value).__name__} is not a number")
    if not number.is_finite():
        raise ValueError("not a finite number")
    return number


def format_amount(value: object, currency: str, *, negate: bool = False) -> str:
    """``49.90``, ``5000``, ``12.345``, ``-49.90``: exactly the currency's decimals in Stripe's API;
    ISK and UGX with none (``5000``) unless the amount has a fraction (``1234.50``)."""
    number = to_decimal(value)
    if negate:
        number = -number
    exact = number.quantize(Decimal(1).scaleb(-currency_decimals(currency)), rounding=ROUND_HALF_UP)
    quantized = exact.quantize(Decimal(1).scaleb(-display_decimals(exact, currency)))
    if quantized.is_zero():
        quantized = abs(quantized)
    return format(quantized, "f")


def format_length(value: object) -> str:
    """A plain number without trailing zeros: ``1``, ``12``, ``0.23``, ``10``."""
    number = to_decimal(value)
    if number.is_zero():
        return "0"
    text = format(number.normalize(), "f")
    return text


def format_text(value: object) -> str:
    """A plain string: numbers as written, booleans ``true``/``false``, datetimes in UTC ISO 8601."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, float):
        return str(Decimal(str(value)))
    return str(value)


def to_unix_seconds(value: object) -> int:
    """Whole unix seconds from a datetime, an ISO 8601 string or a unix number; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a time")
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("not an ISO 8601 date-time") from None
    elif isinstance(value, (int, float, Decimal)):
        return int(to_decimal(value))
    else:
        raise ValueError(f"a {type(value).__name__} is not a time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    delta = moment - _EPOCH
    return delta.days * 86400 + delta.seconds
