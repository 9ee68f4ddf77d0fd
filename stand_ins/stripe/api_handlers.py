"""The handlers of the stand-in's routes: list and retrieve of each object kind, a charge, an invoice's
lines, and the account."""

from __future__ import annotations

from typing import Any

from . import expand, params, render_catalog, versions
from .api_call import EVENT_RETENTION, KINDS, Call, Handler, resolver, visible
from .api_filters import list_cursor, list_keep, list_subset
from .errors import missing
from .model import Charge, Invoice
from .render import event as render_event
from .render import event_version, render
from .render_billing import charge as render_charge
from .render_invoice import line as render_line
from .versions import CURRENT_API_VERSION, shape


def _includable(kind: str, paths: list[str], tiers_path: str) -> tuple[list[str], bool]:
    """A Price's ``tiers`` are includable: absent unless expanded (``expand[]=tiers``)."""
    if kind != "price" or tiers_path not in paths:
        return paths, False
    return [p for p in paths if p != tiers_path], True


def _render(call: Call, kind: str, obj: Any) -> dict[str, Any]:
    """Objects in the request's version; an event's ``data.object`` in the account's default version
    when the event was created."""
    if kind == "event":
        cfg = call.account.config
        return render_event(obj, event_version(obj, cfg.api_version, cfg.previous_api_version))
    return render(kind, obj, call.now, call.version)


def list_handler(segment: str) -> Handler:
    kind, label, _ = KINDS[segment]

    def handle(call: Call) -> dict[str, Any]:
        p = call.params
        limit = params.limit(p)
        paths = p.lists.get("expand", [])
        expand.check(paths, is_list=True)
        keep = list_keep(call, kind)
        field, value = list_subset(call, kind)
        coll = call.account.collection(kind, call.livemode, field, value)
        gte, lte = params.created_bounds(p)
        lte = call.now if lte is None else min(lte, call.now)
        if kind == "event":
            floor = call.now - EVENT_RETENTION
            gte = floor if gte is None else max(gte, floor)
        after = list_cursor(call, kind, label, "starting_after")
        before = list_cursor(call, kind, label, "ending_before")
        lo, hi = coll.bounds(gte, lte)
        objs, more = coll.page(lo, hi, limit, keep, after=after, before=before)
        paths, tiers = _includable(kind, paths, "data.tiers")
        out = {
            "object": "list",
            "data": [render_catalog.price(o, tiers) if tiers else _render(call, kind, o) for o in objs],
            "has_more": more,
            "url": f"/v1/{segment}",
        }
        return expand.apply(out, paths, resolver(call)) if paths else out

    return handle


def retrieve_handler(segment: str) -> Handler:
    kind, label, _ = KINDS[segment]

    def handle(call: Call) -> dict[str, Any]:
        paths = call.params.lists.get("expand", [])
        expand.check(paths, is_list=False)
        object_id = call.path_args["id"]
        obj = call.account.get(kind, object_id)
        if not visible(call, kind, obj):
            raise missing(label, object_id)
        assert obj is not None
        paths, tiers = _includable(kind, paths, "tiers")
        out = render_catalog.price(obj, with_tiers=True) if tiers else _render(call, kind, obj)
        return expand.apply(out, paths, resolver(call)) if paths else out

    return handle


def retrieve_charge(call: Call) -> dict[str, Any]:
    """``GET /v1/charges/{id}``: rendered in the request's ``Stripe-Version``, so an older version still
    carries ``invoice`` (removed from the Charge in 2025-03-31.basil)."""
    expand.check(call.params.lists.get("expand", []), is_list=False)
    charge_id = call.path_args["id"]
    source = call.account.charge(charge_id)
    created = None
    if isinstance(source, Invoice):
        created = source.paid_at if source.paid_at is not None else source.finalized_at
    elif isinstance(source, Charge):
        created = source.created
    if source is None or created is None or created > call.now or source.livemode != call.livemode:
        raise missing("charge", charge_id)
    return render_charge(source, call.now, call.version)


def invoice_lines(call: Call) -> dict[str, Any]:
    """Lines in line order (not newest first), paged with the line ids as cursors."""
    invoice_id = call.path_args["id"]
    inv: Invoice | None = call.account.get("invoice", invoice_id)
    if not visible(call, "invoice", inv):
        raise missing("invoice", invoice_id)
    assert inv is not None
    limit = params.limit(call.params)
    ids = [ln.id for ln in inv.lines]
    start, stop = 0, len(ids)
    after, before = call.params.get("starting_after"), call.params.get("ending_before")
    if after:
        if after not in ids:
            raise missing("line item", after, param="starting_after")
        start = ids.index(after) + 1
    if before:
        if before not in ids:
            raise missing("line item", before, param="ending_before")
        stop = ids.index(before)
        start = max(start, stop - limit)
    chosen = inv.lines[start : min(stop, start + limit)]
    more = (start > 0) if before else (start + limit < stop)
    return {
        "object": "list",
        "data": [_line(call, ln, inv) for ln in chosen],
        "has_more": more,
        "url": f"/v1/invoices/{inv.id}/lines",
    }


def _line(call: Call, ln: Any, inv: Invoice) -> dict[str, Any]:
    if call.version == CURRENT_API_VERSION:
        return render_line(ln, inv)
    legacy = versions.before_basil(call.version)
    names = {ln.price.product.id: ln.price.product.name}.get
    return shape(render_line(ln, inv, legacy), call.version, names)


def account(call: Call) -> dict[str, Any]:
    """``GET /v1/accounts/{id}`` (and ``/v1/account``): the connected account, minimal. Only for clients
    that probe it at start-up (singer-io tap-stripe, the benchmark's baseline); the tap never reads it."""
    account_id = call.path_args.get("id") or "acct_standin"
    return {
        "id": account_id,
        "object": "account",
        "country": "US",
        "default_currency": "usd",
        "charges_enabled": True,
        "settings": {"dashboard": {"display_name": "Stand-in account", "timezone": "Etc/UTC"}},
    }
