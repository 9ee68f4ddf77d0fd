"""A request as its handler sees it (``Call``), the object kinds it may ask for, and which of them it sees."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import expand, params
from .account import Account
from .render import render
from .versions import CURRENT_API_VERSION

EVENT_RETENTION = 30 * 86_400


@dataclass
class Call:
    account: Account
    livemode: bool
    path_args: dict[str, str]
    params: params.Params
    version: str = CURRENT_API_VERSION  # the request's Stripe-Version, else the account's default

    @property
    def now(self) -> int:
        return self.account.now


Handler = Callable[[Call], dict[str, Any]]

# Object kinds: URL segment -> (kind, name in "No such …" messages, permission)
KINDS = {
    "events": ("event", "event", "rak_event_read"),
    "invoices": ("invoice", "invoice", "rak_invoice_read"),
    "prices": ("price", "price", "rak_plan_read"),
    "products": ("product", "product", "rak_product_read"),
    "customers": ("customer", "customer", "rak_customer_read"),
    "subscriptions": ("subscription", "subscription", "rak_subscription_read"),
    "refunds": ("refund", "refund", "rak_refund_read"),
    "credit_notes": ("credit_note", "credit note", "rak_credit_note_read"),
    "invoice_payments": ("invoice_payment", "invoice payment", "rak_invoice_read"),
}


def visible(call: Call, kind: str, obj: Any) -> bool:
    if obj is None or obj.livemode != call.livemode or obj.created > call.now:
        return False
    if kind == "event":
        return obj.visible_at <= call.now and obj.created >= call.now - EVENT_RETENTION
    return True


def resolver(call: Call) -> expand.Resolver:
    prefixes = {"cus_": "customer", "prod_": "product", "sub_": "subscription", "in_": "invoice"}

    def resolve(object_id: str) -> dict[str, Any] | None:
        kind = next((k for p, k in prefixes.items() if object_id.startswith(p)), "price")
        obj = call.account.get(kind, object_id)
        if obj is None or obj.livemode != call.livemode:
            return None
        return render(kind, obj, call.now, call.version)

    return resolve
