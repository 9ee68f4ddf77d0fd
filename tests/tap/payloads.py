"""Stripe-shaped payloads built from Stripe's own example objects (the repository's stripe-fixtures/)."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "stripe-fixtures" / "fixtures.json"


@cache
def _resources() -> dict[str, Any]:
    return json.loads(FIXTURES.read_text())["resources"]


def fixture(name: str) -> dict[str, Any]:
    return copy.deepcopy(_resources()[name])


def price(
    price_id: str = "price_A",
    *,
    interval: str = "month",
    count: int = 1,
    nickname: str | None = None,
    lookup_key: str | None = None,
    product_name: str | None = "Pro",
    product_id: str = "prod_A",
) -> dict[str, Any]:
    p = fixture("price")
    p.update(id=price_id, nickname=nickname, lookup_key=lookup_key, livemode=True)
    p["recurring"].update(interval=interval, interval_count=count)
    prod = fixture("product")
    prod.update(id=product_id, name=product_name)
    p["product"] = prod
    return p


def line(
    amount: int,
    *,
    price_id: str = "price_A",
    proration: bool = False,
    subscription_item: bool = True,
    start: int = 1_700_000_000,
    end: int = 1_702_592_000,
) -> dict[str, Any]:
    """A current-shape (basil+) line."""
    ln = fixture("line_item")
    ln["id"] = f"il_{amount}_{price_id}"
    ln["amount"] = amount
    ln["livemode"] = True
    ln["period"] = {"start": start, "end": end}
    ln["pricing"] = {
        "type": "price_details",
        "price_details": {"price": price_id, "product": "prod_A"},
        "unit_amount_decimal": str(amount),
    }
    if subscription_item:
        ln["parent"] = {
            "type": "subscription_item_details",
            "subscription_item_details": {
                "invoice_item": None,
                "proration": proration,
                "proration_details": {"credited_items": None},
                "subscription": "sub_1",
                "subscription_item": "si_1",
            },
            "invoice_item_details": None,
        }
    else:
        ln["parent"] = {
            "type": "invoice_item_details",
            "invoice_item_details": {
                "invoice_item": "ii_1",
                "proration": proration,
                "proration_details": {"credited_items": None},
                "subscription": "sub_1",
            },
            "subscription_item_details": None,
        }
    return ln


def legacy_line(
    amount: int,
    *,
    price_payload: dict[str, Any] | None = None,
    proration: bool = False,
    kind: str = "subscription",
    start: int = 1_700_000_000,
    end: int = 1_702_592_000,
) -> dict[str, Any]:
    """A pre-2025 line: type/proration at the top, embedded price and plan."""
    pp = price_payload or price()
    flat = copy.deepcopy(pp)
    flat["product"] = pp["product"]["id"] if isinstance(pp["product"], dict) else pp["product"]
    plan = fixture("plan")
    plan.update(
        id=pp["id"],
        interval=pp["recurring"]["interval"],
        interval_count=pp["recurring"]["interval_count"],
        nickname=pp.get("nickname"),
        product=flat["product"],
    )
    return {
        "id": f"il_legacy_{amount}",
        "object": "line_item",
        "amount": amount,
        "currency": "usd",
        "livemode": True,
        "period": {"start": start, "end": end},
        "proration": proration,
        "type": kind,
        "price": flat,
        "plan": plan,
        "subscription": "sub_1",
        "subscription_item": "si_1",
    }


def invoice(
    invoice_id: str = "in_1",
    *,
    amount_paid: int = 4990,
    currency: str = "usd",
    paid_at: int | None = 1_700_000_100,
    created: int = 1_700_000_000,
    status: str = "paid",
    livemode: bool = True,
    subscription: str | None = "sub_1",
    lines: list[dict[str, Any]] | None = None,
    has_more: bool = False,
    customer: str = "cus_1",
    customer_email: str | None = "Ann@Example.com",
    billing_reason: str = "subscription_cycle",
) -> dict[str, Any]:
    """A current-shape invoice."""
    inv = fixture("invoice")
    inv.update(
        id=invoice_id,
        amount_paid=amount_paid,
        currency=currency,
        created=created,
        status=status,
        livemode=livemode,
        customer=customer,
        customer_email=customer_email,
        billing_reason=billing_reason,
    )
    inv["status_transitions"]["paid_at"] = paid_at
    inv.pop("subscription", None)
    if subscription is None:
        inv["parent"] = None
    else:
        inv["parent"] = {
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {"metadata": {}, "subscription": subscription},
        }
    ls = lines if lines is not None else [line(amount_paid)]
    inv["lines"] = {
        "object": "list",
        "data": ls[:10],
        "has_more": has_more or len(ls) > 10,
        "url": f"/v1/invoices/{invoice_id}/lines",
    }
    return inv


def legacy_invoice(invoice_id: str = "in_L", **kwargs: Any) -> dict[str, Any]:
    """A pre-2025 invoice as an old event renders it: ``subscription`` at the top, no ``parent``."""
    sub = kwargs.pop("subscription", "sub_1")
    lines = kwargs.pop("lines", None)
    amount = kwargs.get("amount_paid", 4990)
    inv = invoice(invoice_id, subscription=None, lines=lines or [legacy_line(amount)], **kwargs)
    inv.pop("parent", None)
    inv["subscription"] = sub
    return inv


def event(
    obj: dict[str, Any], created: int, event_id: str = "evt_1", type_: str = "invoice.paid"
) -> dict[str, Any]:
    ev = fixture("event")
    ev.update(id=event_id, created=created, type=type_, livemode=obj.get("livemode", True))
    ev["data"] = {"object": obj}
    return ev
