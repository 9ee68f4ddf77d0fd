"""Which objects a list request selects: its filters (``types[]``, ``status``, ``active``), the one
subset it asks for (``customer``, ``invoice``, ``payment[…]``…) and its cursors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import params
from .api_call import Call, visible
from .errors import StripeError, missing

MAX_TYPES = 20


def list_keep(call: Call, kind: str) -> Callable[[Any], bool] | None:
    p, now = call.params, call.now
    if kind == "event":
        types = set(p.lists.get("types", []))
        if "type" in p.scalars:
            types.add(p.scalars["type"])
        if len(p.lists.get("types", [])) > MAX_TYPES:
            raise StripeError(400, "You may pass at most 20 types.", param="types")
        wildcard = tuple(t[:-1] for t in types if t.endswith("*"))
        exact = {t for t in types if not t.endswith("*")}

        def keep_event(ev: Any) -> bool:
            if ev.visible_at > now:
                return False
            return not types or ev.type in exact or (bool(wildcard) and ev.type.startswith(wildcard))

        return keep_event
    if kind == "invoice" and p.get("status"):
        status = p.scalars["status"]
        if status not in ("draft", "open", "paid", "uncollectible", "void"):
            raise StripeError(
                400,
                "Invalid status: must be one of draft, open, paid, uncollectible, or void",
                param="status",
            )
        return lambda inv: inv.status_at(now) == status
    if kind == "subscription":
        status = p.get("status") or ""
        if status == "all":
            return None
        if status:
            return lambda sub: sub.status_at(now) == status
        return lambda sub: sub.status_at(now) != "canceled"
    if kind == "price" and p.get("active") in ("true", "false"):
        active = p.scalars["active"] == "true"
        return lambda price: price.active == active
    return None


PAYMENT_TYPES = ("payment_intent", "payment_record")  # InvoicePaymentListParamsPayment.type


def _payment_filter(p: params.Params) -> tuple[str, str] | None:
    """``payment[type]`` and ``payment[<type>]`` of ``GET /v1/invoice_payments``, checked as Stripe
    does: only PaymentIntents and payment records can be filtered on (a charge cannot)."""
    payment = p.maps.get("payment")
    if payment is None:
        return None
    for key in payment:
        if key not in ("type", *PAYMENT_TYPES):
            raise StripeError(400, f"Received unknown parameter: payment[{key}]", param=f"payment[{key}]")
    kind = payment.get("type")
    if kind is None:
        raise StripeError(400, "Missing required param: payment[type].", param="payment[type]")
    if kind not in PAYMENT_TYPES:
        raise StripeError(
            400,
            "Invalid payment[type]: must be one of payment_intent or payment_record",
            param="payment[type]",
        )
    value = payment.get(kind)
    if not value:
        raise StripeError(400, f"Missing required param: payment[{kind}].", param=f"payment[{kind}]")
    return kind, value


def list_subset(call: Call, kind: str) -> tuple[str, str]:
    p = call.params
    if kind == "invoice_payment":
        found = _payment_filter(p)
        if found is not None:
            return found
    for name in ("customer", "subscription", "invoice", "charge", "payment_intent", "product", "email"):
        if p.get(name) and name in _FILTERABLE.get(kind, ()):
            return name, p.scalars[name]
    return "", ""


_FILTERABLE = {
    "invoice": ("customer", "subscription"),
    "subscription": ("customer",),
    "credit_note": ("invoice", "customer"),
    "invoice_payment": ("invoice",),
    "refund": ("charge", "payment_intent"),
    "price": ("product",),
    "customer": ("email",),
}


def list_cursor(call: Call, kind: str, label: str, param: str) -> tuple[int, str] | None:
    object_id = call.params.get(param)
    if not object_id:
        return None
    obj = call.account.get(kind, object_id)
    if obj is None or not visible(call, kind, obj):
        raise missing(label, object_id, param=param)
    return obj.created, obj.id
