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


def price(p: Price) -> dict[str, Any]:
    recurring = (
        None
        if p.interval is None
        else {
            "interval": p.interval,
            "interval_count": p.interval_count,
            "meter": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        }
    )
    return {
        "active": p.active,
        "billing_scheme": "per_unit",
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
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "one_time" if p.interval is None else "recurring",
        "unit_amount": p.unit_amount,
        "unit_amount_decimal": str(p.unit_amount),
    }


def plan(p: Price) -> dict[str, Any]:
    """The legacy Plan view of a recurring price (pre-2025 payloads carry it next to ``price``)."""
    return {
        "active": p.active,
        "amount": p.unit_amount,
        "amount_decimal": str(p.unit_amount),
        "billing_scheme": "per_unit",
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
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": "licensed",
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
