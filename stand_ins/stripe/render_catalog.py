"""JSON payloads of products, prices, legacy plans and customers (keys as in Stripe's fixtures)."""

from __future__ import annotations

from typing import Any

from .model import Customer, Price, Product

_ADDRESS = {"city": None, "country": None, "line1": None, "line2": None, "postal_code": None, "state": None}


def product(p: Product) -> dict[str, Any]:
    return {
        "active": True,
        "created": p.created,
        "default_price": None,
        "description": p.description,
        "id": p.id,
        "images": [],
        "livemode": p.livemode,
        "marketing_features": [],
        "metadata": {},
        "name": p.name,
        "object": "product",
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": "service",
        "unit_label": None,
        "updated": p.created,
        "url": None,
    }


def _amounts(p: Price) -> tuple[int | None, str | None]:
    """``unit_amount`` and ``unit_amount_decimal`` (both null for a tiered price)."""
    if p.scheme in ("graduated", "volume"):
        return None, None
    if p.unit_amount_decimal is not None:
        return None, p.unit_amount_decimal
    return p.unit_amount, str(p.unit_amount)


def tiers(p: Price) -> list[dict[str, Any]]:
    """A tiered price's ``tiers`` (Stripe includes them only when expanded: ``expand[]=tiers``)."""
    return [
        {
            "flat_amount": flat,
            "flat_amount_decimal": None if flat is None else str(flat),
            "unit_amount": unit,
            "unit_amount_decimal": str(unit),
            "up_to": up_to,
        }
        for up_to, unit, flat in p.tiers
    ]


def price(p: Price, with_tiers: bool = False) -> dict[str, Any]:
    recurring = (
        None
        if p.interval is None
        else {
            "interval": p.interval,
            "interval_count": p.interval_count,
            "meter": f"mtr_{p.id[6:]}" if p.scheme == "metered" else None,
            "trial_period_days": None,
            "usage_type": "metered" if p.scheme == "metered" else "licensed",
        }
    )
    unit_amount, unit_amount_decimal = _amounts(p)
    tiered = p.scheme in ("graduated", "volume")
    out: dict[str, Any] = {
        "active": p.active,
        "billing_scheme": "tiered" if tiered else "per_unit",
        "created": p.created,
        "currency": p.currency,
        "custom_unit_amount": None,
        "id": p.id,
        "livemode": p.livemode,
        "lookup_key": p.lookup_key,
        "metadata": {},
        "nickname": p.nickname,
        "object": "price",
        "product": p.product.id,
        "recurring": recurring,
        "tax_behavior": "unspecified",
        "tiers_mode": p.scheme if tiered else None,
        "transform_quantity": None,
        "type": "one_time" if p.interval is None else "recurring",
        "unit_amount": unit_amount,
        "unit_amount_decimal": unit_amount_decimal,
    }
    if with_tiers and tiered:
        out["tiers"] = tiers(p)
    return out


def plan(p: Price) -> dict[str, Any]:
    """The legacy Plan view of a recurring price (pre-2025 payloads carry it next to ``price``)."""
    return {
        "active": p.active,
        "amount": _amounts(p)[0],
        "amount_decimal": _amounts(p)[1],
        "billing_scheme": "tiered" if p.scheme in ("graduated", "volume") else "per_unit",
        "created": p.created,
        "currency": p.currency,
        "id": p.id,
        "interval": p.interval,
        "interval_count": p.interval_count,
        "livemode": p.livemode,
        "metadata": {},
        "meter": None,
        "nickname": p.nickname,
        "object": "plan",
        "product": p.product.id,
        "tiers_mode": p.scheme if p.scheme in ("graduated", "volume") else None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": "metered" if p.scheme == "metered" else "licensed",
    }


def customer(c: Customer, at: int) -> dict[str, Any]:
    return {
        "address": dict(_ADDRESS),
        "balance": 0,
        "created": c.created,
        "currency": c.currency,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": c.email_at(at),
        "id": c.id,
        "invoice_prefix": c.id[-8:].upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": c.livemode,
        "metadata": {},
        "name": c.name,
        "next_invoice_sequence": 1,
        "object": "customer",
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }
