"""Payload of any object as of a clock value; events are rendered as of their own creation."""

from __future__ import annotations

import threading
from typing import Any

from . import render_billing, render_catalog, render_invoice
from .model import Event, Subscription

CURRENT_API_VERSION = "2026-10-28.endive"
LEGACY_API_VERSION = "2024-06-20"


def render(kind: str, obj: Any, at: int) -> dict[str, Any]:
    if kind == "invoice":
        return render_invoice.invoice(obj, at)
    if kind == "price":
        return render_catalog.price(obj)
    if kind == "product":
        return render_catalog.product(obj)
    if kind == "customer":
        return render_catalog.customer(obj, at)
    if kind == "subscription":
        return render_billing.subscription(obj, at)
    if kind == "refund":
        return render_billing.refund(obj)
    if kind == "credit_note":
        return render_billing.credit_note(obj)
    if kind == "invoice_payment":
        return render_billing.invoice_payment(obj, at)
    if kind == "event":
        return event(obj)
    if kind == "charge":
        return render_billing.charge(obj, at)
    raise KeyError(kind)


def _previous(ev: Event, sub: Subscription) -> dict[str, Any]:
    out: dict[str, Any] = {}
    assert ev.previous is not None
    for key, value in ev.previous.items():
        if key == "items":
            out["items"] = render_billing.items_list(value, sub, ev.created - 1)
        elif key == "plan":
            out["plan"] = render_catalog.plan(value)
        else:
            out[key] = value
    return out


def _event(ev: Event) -> dict[str, Any]:
    at, obj, legacy = ev.created, ev.obj, ev.legacy
    kind = ev.type.split(".", 1)[0]
    data: dict[str, Any]
    if kind == "invoice":
        data = {"object": render_invoice.invoice(obj, at, legacy)}
    elif kind == "customer":
        data = {"object": render_billing.subscription(obj, at, legacy)}
        if ev.previous is not None:
            data["previous_attributes"] = _previous(ev, obj)
    elif ev.type == "charge.refunded":
        source = obj.invoice if obj.invoice is not None else obj.charge
        version = LEGACY_API_VERSION if legacy else None
        data = {
            "object": render_billing.charge(source, at, version),
            "previous_attributes": {"refunded": False},
        }
    elif kind == "refund":
        data = {"object": render_billing.refund(obj)}
    else:
        data = {"object": render_billing.credit_note(obj)}
    return {
        "api_version": LEGACY_API_VERSION if legacy else CURRENT_API_VERSION,
        "created": ev.created,
        "data": data,
        "id": ev.id,
        "livemode": ev.livemode,
        "object": "event",
        "pending_webhooks": 0,
        "request": {"id": None, "idempotency_key": None},
        "type": ev.type,
    }


_CACHE: dict[str, tuple[Event, dict[str, Any]]] = {}
_CACHE_MAX = 20_000
_CACHE_LOCK = threading.Lock()


def event(ev: Event) -> dict[str, Any]:
    """Events never change: renders are cached (bounded). Callers must not mutate the result."""
    hit = _CACHE.get(ev.id)
    if hit is not None and hit[0] is ev:
        return hit[1]
    rendered = _event(ev)
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.pop(next(iter(_CACHE)), None)
        _CACHE[ev.id] = (ev, rendered)
    return rendered
