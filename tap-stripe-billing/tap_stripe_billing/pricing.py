"""What a subscription item bills per period, from its price and quantity (minor units, exact). Pure.

Stripe's pricing models (Price ``billing_scheme``, ``tiers_mode``, ``recurring.usage_type``):

- **per unit**: ``unit_amount_decimal`` x quantity (``unit_amount`` is null when the amount has fractions
  of a minor unit); with ``transform_quantity`` the quantity is first divided by ``divide_by`` and rounded
  up or down (package pricing).
- **tiered, volume**: the whole quantity at the tier it falls in: unit amount x quantity + the tier's flat
  amount.
- **tiered, graduated**: each tier's share of the quantity at that tier's unit amount, plus the flat amount
  of every tier the quantity reaches.
- **metered** (usage-based): no fixed amount: None. ``lifecycle.py`` says what a change to or from one is.

Tiers are only in a price payload when expanded (``expand[]=tiers``); without them the amount is unknown
(None) and the caller looks the price up in the walk, which expands them.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from tap_stripe_billing.records import PriceInfo


def period_amount(price: PriceInfo, quantity: int) -> Decimal | None:
    """The item's amount per billing period in minor units, or None (metered, or tiers not known)."""
    if price.usage_type == "metered":
        return None
    if price.billing_scheme == "tiered":
        if not price.tiers:
            return None
        if price.tiers_mode == "volume":
            return _volume(price.tiers, quantity)
        return _graduated(price.tiers, quantity)
    unit = price.unit_amount_decimal
    if unit is None and price.unit_amount is not None:
        unit = Decimal(price.unit_amount)
    if unit is None:
        return None
    return unit * _transformed(quantity, price.transform_quantity)


def known(price: PriceInfo) -> bool:
    """Whether the payload says enough to compute the amount (tiers present when tiered)."""
    if price.billing_scheme == "tiered":
        return bool(price.tiers)
    return price.usage_type == "metered" or (price.unit_amount_decimal, price.unit_amount) != (None, None)


def _transformed(quantity: int, transform: tuple[int, str] | None) -> Decimal:
    if transform is None:
        return Decimal(quantity)
    divide_by, rounding = transform
    mode = ROUND_CEILING if rounding == "up" else ROUND_FLOOR
    return (Decimal(quantity) / Decimal(divide_by)).to_integral_value(rounding=mode)


Tier = tuple[int | None, Decimal | None, Decimal | None]
_ZERO = Decimal(0)


def _volume(tiers: tuple[Tier, ...], quantity: int) -> Decimal:
    for up_to, unit, flat in tiers:
        if up_to is None or quantity <= up_to:
            return (unit or _ZERO) * quantity + (flat or _ZERO)
    up_to, unit, flat = tiers[-1]
    return (unit or _ZERO) * quantity + (flat or _ZERO)


def _graduated(tiers: tuple[Tier, ...], quantity: int) -> Decimal:
    total, below = Decimal(0), 0
    for up_to, unit, flat in tiers:
        if quantity <= below:
            break
        top = quantity if up_to is None else min(quantity, up_to)
        total += (unit or _ZERO) * (top - below) + (flat or _ZERO)
        if up_to is None:
            break
        below = up_to
    return total
