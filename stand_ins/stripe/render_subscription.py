"""JSON payloads of subscriptions and their items."""

from __future__ import annotations

from typing import Any

from . import render_catalog
from .model import Item, Subscription


def subscription_item(item: Item, sub: Subscription, at: int) -> dict[str, Any]:
    si, price, qty = item
    start, end = sub.period_at(at)
    return {
        "billing_thresholds": None,
        "created": sub.created,
        "current_period_end": end,
        "current_period_start": start,
        "discounts": [],
        "id": si,
        "metadata": {},
        "object": "subscription_item",
        "plan": render_catalog.plan(price),
        "price": render_catalog.price(price),
        "quantity": None if price.scheme == "metered" else qty,
        "subscription": sub.id,
        "tax_rates": [],
    }


def items_list(items: tuple[Item, ...], sub: Subscription, at: int) -> dict[str, Any]:
    return {
        "data": [subscription_item(item, sub, at) for item in items],
        "has_more": False,
        "object": "list",
        "total_count": len(items),
        "url": f"/v1/subscription_items?subscription={sub.id}",
    }


def subscription(sub: Subscription, at: int, legacy: bool = False) -> dict[str, Any]:
    items, metadata = sub.version_at(at)
    status = sub.status_at(at)
    requested = sub.canceled_at is not None and at >= sub.canceled_at
    canceled = status == "canceled"
    at_period_end = requested and sub.cancel_at_period_end
    start, end = sub.period_at(at)
    out: dict[str, Any] = {
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": sub.boundaries[1] if sub.trial_end is not None else sub.created,
        "billing_cycle_anchor_config": None,
        "billing_mode": {"flexible": None, "type": "classic"},
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": sub.ended_at if at_period_end else None,
        "cancel_at_period_end": at_period_end,
        "canceled_at": sub.canceled_at if requested else None,
        "cancellation_details": {
            "comment": sub.cancel_comment if requested else None,
            "feedback": sub.cancel_feedback if requested else None,
            "reason": sub.cancel_reason if requested else None,
        },
        "collection_method": "charge_automatically",
        "created": sub.created,
        "currency": sub.currency,
        "customer": sub.customer.id,
        "customer_account": None,
        "days_until_due": None,
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "ended_at": sub.ended_at if canceled else None,
        "id": sub.id,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": items_list(items, sub, at),
        "latest_invoice": None,
        "livemode": sub.livemode,
        "managed_payments": None,
        "metadata": dict(metadata),
        "next_pending_invoice_item_invoice": None,
        "object": "subscription",
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": sub.created,
        "status": status,
        "test_clock": None,
        "transfer_data": None,
        "trial_end": sub.trial_end,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": sub.created if sub.trial_end is not None else None,
    }
    if legacy:
        del out["billing_mode"], out["billing_schedules"], out["managed_payments"]
        out["current_period_start"], out["current_period_end"] = start, end
        single = len(items) == 1
        out["plan"] = render_catalog.plan(items[0][1]) if single else None
        out["quantity"] = items[0][2] if single and items[0][1].scheme != "metered" else None
    return out
