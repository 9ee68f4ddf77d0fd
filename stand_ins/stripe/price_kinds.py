"""Prices without a plain ``unit_amount`` (switched on by ``AccountConfig.price_kinds_share``): tiered
(graduated and volume), ``unit_amount_decimal`` with fractions of a minor unit, metered (usage-based); and
what an item of such a price bills per period (Stripe's pricing-models documentation):

- per unit: unit amount x quantity; decimal: ``unit_amount_decimal`` x quantity, the line rounded to a
  whole minor unit;
- volume: the whole quantity at the unit amount of the tier it falls in, plus that tier's flat amount;
- graduated: each tier's share of the quantity at its unit amount, plus the flat amount of each tier
  reached;
- metered: usage x unit amount, no fixed amount (billed per period by usage; Stripe writes no proration
  lines for metered items).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from .model import Price
from .money import whole

KINDS = ("graduated", "volume", "decimal", "metered")


def shape(price: Price, kind: str) -> Price:
    """Turn a freshly built per-unit price of amount A into ``kind`` (tiers derived from A)."""
    a, cur = price.unit_amount, price.currency
    price.scheme = kind
    if kind == "graduated":
        price.tiers = [(1, a, None), (5, whole(a * 8 // 10, cur), None), (None, whole(a * 6 // 10, cur), a)]
    elif kind == "volume":
        price.tiers = [
            (2, a, None),
            (10, whole(a * 3 // 4, cur), whole(a // 2, cur)),
            (None, whole(a // 2, cur), a),
        ]
    elif kind == "decimal" and cur not in ("isk", "ugx"):
        price.unit_amount_decimal = f"{a}.5"
    elif kind == "metered":
        price.unit_amount = max(1, whole(a // 10, cur))
    return price


def period_amount(price: Price, qty: int) -> Decimal | None:
    """Exact amount per period in minor units (None: metered)."""
    if price.scheme == "metered":
        return None
    if price.scheme == "decimal" and price.unit_amount_decimal is not None:
        return Decimal(price.unit_amount_decimal) * qty
    if price.scheme == "volume":
        for up_to, unit, flat in price.tiers:
            if up_to is None or qty <= up_to:
                return Decimal(unit * qty + (flat or 0))
    if price.scheme == "graduated":
        total, below = 0, 0
        for up_to, unit, flat in price.tiers:
            if qty <= below:
                break
            top = qty if up_to is None else min(qty, up_to)
            total += unit * (top - below) + (flat or 0)
            if up_to is None:
                break
            below = up_to
        return Decimal(total)
    return Decimal(price.unit_amount * qty)


def charged(price: Price, qty: int) -> int:
    """A line's amount for one full period (whole minor units; ISK and UGX multiples of 100)."""
    exact = period_amount(price, qty)
    assert exact is not None, "metered items are billed by usage"
    return whole(int(exact.to_integral_value(rounding=ROUND_HALF_UP)), price.currency)


def charged_or_zero(price: Price, qty: int) -> int:
    """``charged``, or 0 for a metered price (which gets no proration line: callers drop it)."""
    return 0 if price.scheme == "metered" else charged(price, qty)
