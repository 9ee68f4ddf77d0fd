"""Canonical text for values sent to KISSmetrics: the same input always gives the same characters.

Numbers are handled as :class:`decimal.Decimal` (floats through ``str()``, never through binary), so
``49.9`` is written ``49.90`` in USD, ``5000`` in JPY, ``12.345`` in KWD.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

ZERO_DECIMAL_CURRENCIES = frozenset(
    [
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
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
THREE_DECIMAL_CURRENCIES = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def currency_decimals(currency: str) -> int:
    """Minor-unit exponent of an ISO 4217 code (case-insensitive): 0, 3 or 2."""
    code = currency.strip().upper()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


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
    """``49.90``, ``5000``, ``12.345``, ``-49.90``: exactly the currency's decimals."""
    number = to_decimal(value)
    if negate:
        number = -number
    places = currency_decimals(currency)
    quantized = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
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
