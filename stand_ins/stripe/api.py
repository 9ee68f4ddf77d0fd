"""The ``/v1/`` REST subset: a route table, list/retrieve semantics, filters, expansion, errors."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from . import expand, params, render_catalog, versions
from .account import Account
from .errors import StripeError, missing
from .keys import KeyInfo
from .model import Charge, Invoice
from .render import event as render_event
from .render import event_version, render
from .render_billing import charge as render_charge
from .render_invoice import line as render_line
from .versions import CURRENT_API_VERSION, shape

EVENT_RETENTION = 30 * 86_400
MAX_TYPES = 20


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


def _keep(call: Call, kind: str) -> Callable[[Any], bool] | None:
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


def _subset(call: Call, kind: str) -> tuple[str, str]:
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


def _cursor(call: Call, kind: str, label: str, param: str) -> tuple[int, str] | None:
    object_id = call.params.get(param)
    if not object_id:
        return None
    obj = call.account.get(kind, object_id)
    if obj is None or not visible(call, kind, obj):
        raise missing(label, object_id, param=param)
    return obj.created, obj.id


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
        keep = _keep(call, kind)
        field, value = _subset(call, kind)
        coll = call.account.collection(kind, call.livemode, field, value)
        gte, lte = params.created_bounds(p)
        lte = call.now if lte is None else min(lte, call.now)
        if kind == "event":
            floor = call.now - EVENT_RETENTION
            gte = floor if gte is None else max(gte, floor)
        after = _cursor(call, kind, label, "starting_after")
        before = _cursor(call, kind, label, "ending_before")
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


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    permission: str


def _route(method: str, template: str, handler: Handler, permission: str) -> Route:
    regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"
    return Route(method, template, re.compile(regex), handler, permission)


ROUTES: list[Route] = [
    _route("GET", "/v1/invoices/{id}/lines", invoice_lines, "rak_invoice_read"),
    _route("GET", "/v1/charges/{id}", retrieve_charge, "rak_charge_read"),
    _route("GET", "/v1/account", account, "rak_invoice_read"),
    _route("GET", "/v1/accounts/{id}", account, "rak_invoice_read"),
    _route("GET", "/v1/accounts", account, "rak_invoice_read"),  # the server lists (connect.py)
]
for _segment, (_kind, _label, _permission) in KINDS.items():
    ROUTES.append(_route("GET", f"/v1/{_segment}", list_handler(_segment), _permission))
    ROUTES.append(_route("GET", f"/v1/{_segment}/{{id}}", retrieve_handler(_segment), _permission))


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in ROUTES:
        if route.method == method:
            m = route.pattern.match(path)
            if m is not None:  # ids are matched quoted ("%2F" is no separator), then unquoted
                return route, {k: unquote(v) for k, v in m.groupdict().items()}
    return None


def unrecognized(method: str, path: str) -> StripeError:
    return StripeError(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at "
        "https://support.stripe.com/.",
    )


_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")


def api_version(account: Account, header: str | None) -> str:
    """The version a request is answered in: its ``Stripe-Version`` (a dated version, as Stripe takes
    it, else its 400), else the account's default."""
    if header is None or not header.strip():
        return account.config.api_version
    version = header.strip()
    if not _VERSION.match(version) or not _is_date(version[:10]):
        raise StripeError(400, f"Invalid Stripe API version: {version}", param="Stripe-Version")
    return version


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def handle(  # noqa: PLR0917
    account: Account,
    route: Route,
    path_args: dict[str, str],
    pairs: list[tuple[str, str]],
    key: KeyInfo,
    version: str = CURRENT_API_VERSION,
) -> dict[str, Any]:
    call = Call(account, key.livemode, path_args, params.parse(pairs), version)
    return route.handler(call)
