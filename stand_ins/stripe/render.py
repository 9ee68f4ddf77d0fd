"""Payload of any object as of a clock value; events are rendered as of their own creation."""

from __future__ import annotations

import threading
from typing import Any

from . import render_billing, render_catalog, render_invoice, render_subscription, versions
from .model import RENEWAL, Event, Subscription
from .versions import CURRENT_API_VERSION

LEGACY_API_VERSION = "2024-06-20"  # AccountConfig.previous_api_version's default


def _product_name(obj: Any) -> versions.Names:
    """Product names for older shapes (a legacy Plan's ``name``), from the objects the render reaches."""
    names: dict[str, str] = {}
    lines = getattr(obj, "lines", None) or []
    prices = [ln.price for ln in lines]
    if hasattr(obj, "versions"):
        prices += [price for items, _ in obj.versions for _, price, _ in items]
    if hasattr(obj, "product"):
        prices.append(obj)
    for price in prices:
        names[price.product.id] = price.product.name
    return names.get


def render(kind: str, obj: Any, at: int, version: str = CURRENT_API_VERSION) -> dict[str, Any]:
    """``obj`` as of ``at`` in API ``version`` (the pinned one by default)."""
    if version == CURRENT_API_VERSION:
        return _render(kind, obj, at)
    legacy = versions.before_basil(version)
    if kind == "invoice":
        base = render_invoice.invoice(obj, at, legacy)
    elif kind == "subscription":
        base = render_subscription.subscription(obj, at, legacy)
    else:
        base = _render(kind, obj, at)
    return versions.shape(base, version, _product_name(obj))


def _render(kind: str, obj: Any, at: int) -> dict[str, Any]:
    if kind == "invoice":
        return render_invoice.invoice(obj, at)
    if kind == "price":
        return render_catalog.price(obj)
    if kind == "product":
        return render_catalog.product(obj)
    if kind == "customer":
        return render_catalog.customer(obj, at)
    if kind == "subscription":
        return render_subscription.subscription(obj, at)
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
            out["items"] = render_subscription.items_list(value, sub, ev.created - 1)
        elif key == "plan":
            out["plan"] = render_catalog.plan(value)
        else:
            out[key] = value
    return out


def _event(ev: Event, version: str) -> dict[str, Any]:
    at, obj, legacy = ev.created, ev.obj, versions.before_basil(version)
    kind = ev.type.split(".", 1)[0]
    data: dict[str, Any]
    if kind == "invoice":
        data = {"object": render_invoice.invoice(obj, at, legacy)}
    elif kind == "customer":
        data = {"object": render_subscription.subscription(obj, at, legacy)}
        if ev.previous is not None:
            previous = _previous(ev, obj)
            if RENEWAL in previous:  # a renewal: before basil the items had no periods of their own
                period_start = previous.pop(RENEWAL)[0]
                if legacy:
                    previous = {"current_period_end": ev.created, "current_period_start": period_start}
            if not legacy:  # the pinned Subscription has no top-level plan or quantity
                previous = {k: v for k, v in previous.items() if k in data["object"]}
            data["previous_attributes"] = previous
    elif ev.type == "charge.refunded":
        source = obj.invoice if obj.invoice is not None else obj.charge
        data = {
            "object": render_billing.charge(source, at, version),
            "previous_attributes": {"refunded": False},
        }
    elif kind == "refund":
        data = {"object": render_billing.refund(obj)}
    else:
        data = {"object": render_billing.credit_note(obj)}
    if version != CURRENT_API_VERSION:
        names = _product_name(obj.invoice if ev.type == "charge.refunded" else obj)
        shaped: dict[str, Any] = {"object": versions.shape(data["object"], version, names)}
        if "previous_attributes" in data:
            kind_name = str(data["object"].get("object"))
            previous = data["previous_attributes"]
            shaped["previous_attributes"] = versions.shape_partial(kind_name, previous, version, names)
        data = shaped
    return {
        "api_version": version,
        "created": ev.created,
        "data": data,
        "id": ev.id,
        "livemode": ev.livemode,
        "object": "event",
        "pending_webhooks": 0,
        "request": {"id": None, "idempotency_key": None},
        "type": ev.type,
    }


_CACHE: dict[tuple[str, str], tuple[Event, dict[str, Any]]] = {}
_CACHE_MAX = 20_000
_CACHE_LOCK = threading.Lock()


def event_version(ev: Event, api_version: str, previous_api_version: str) -> str:
    """The account's default version when the event was created: ``previous_api_version`` for events
    from before its last upgrade (``Event.legacy``), else ``api_version``."""
    return previous_api_version if ev.legacy else api_version


def event(ev: Event, version: str | None = None) -> dict[str, Any]:
    """The event, its ``data.object`` in ``version`` (default: the current one, or the previous default
    ``2024-06-20`` for a ``legacy`` event). Events never change: renders are cached (bounded). Callers
    must not mutate the result."""
    if version is None:
        version = event_version(ev, CURRENT_API_VERSION, LEGACY_API_VERSION)
    hit = _CACHE.get((ev.id, version))
    if hit is not None and hit[0] is ev:
        return hit[1]
    rendered = _event(ev, version)
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.pop(next(iter(_CACHE)), None)
        _CACHE[(ev.id, version)] = (ev, rendered)
    return rendered
