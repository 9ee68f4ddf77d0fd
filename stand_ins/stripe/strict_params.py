"""Request parameters checked as Stripe checks them, against stripe-python 16.1.0's generated types.

``stripe.params`` lists, per endpoint, exactly the parameters Stripe accepts (``InvoiceListParams``,
``EventListParams``, ``InvoicePaymentListParams``…): nested ``TypedDict``s for ``created[gte]`` or
``payment[type]``, ``List[str]`` for ``expand[]``. Real Stripe answers anything else with HTTP 400
``invalid_request_error`` "Received unknown parameter: …", a value outside an enum with 400 too, and a
missing required nested key with "Missing required param: …". The generated types widen every enum
with ``|str`` for forward compatibility; here only the ``Literal`` values count, as on Stripe's server.
"""

from __future__ import annotations

import types
import typing
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin

import stripe._request_options as request_options
import stripe.params as sdk_params
import typing_extensions
from stripe._request_options import RequestOptions
from stripe._stripe_context import StripeContext

from .errors import StripeError

# (method, route template) -> the stripe.params type of that endpoint
ENDPOINT_PARAMS: dict[tuple[str, str], str] = {
    ("GET", "/v1/events"): "EventListParams",
    ("GET", "/v1/events/{id}"): "EventRetrieveParams",
    ("GET", "/v1/invoices"): "InvoiceListParams",
    ("GET", "/v1/invoices/{id}"): "InvoiceRetrieveParams",
    ("GET", "/v1/invoices/{id}/lines"): "InvoiceLineItemListParams",
    ("GET", "/v1/prices"): "PriceListParams",
    ("GET", "/v1/prices/{id}"): "PriceRetrieveParams",
    ("GET", "/v1/products"): "ProductListParams",
    ("GET", "/v1/products/{id}"): "ProductRetrieveParams",
    ("GET", "/v1/customers"): "CustomerListParams",
    ("GET", "/v1/customers/{id}"): "CustomerRetrieveParams",
    ("GET", "/v1/subscriptions"): "SubscriptionListParams",
    ("GET", "/v1/subscriptions/{id}"): "SubscriptionRetrieveParams",
    ("GET", "/v1/subscription_items"): "SubscriptionItemListParams",
    ("GET", "/v1/refunds"): "RefundListParams",
    ("GET", "/v1/refunds/{id}"): "RefundRetrieveParams",
    ("GET", "/v1/credit_notes"): "CreditNoteListParams",
    ("GET", "/v1/credit_notes/{id}"): "CreditNoteRetrieveParams",
    ("GET", "/v1/invoice_payments"): "InvoicePaymentListParams",
    ("GET", "/v1/invoice_payments/{id}"): "InvoicePaymentRetrieveParams",
    ("GET", "/v1/charges/{id}"): "ChargeRetrieveParams",
    ("GET", "/v1/account"): "AccountRetrieveParams",
    ("GET", "/v1/accounts/{id}"): "AccountRetrieveParams",
    ("GET", "/v1/accounts"): "AccountListParams",
}
_OPTIONS = frozenset(RequestOptions.__annotations__)  # api_key, stripe_version…: headers, not parameters


def unknown(key: str) -> StripeError:
    return StripeError(400, f"Received unknown parameter: {key}", param=key)


@cache
def fields(cls: type) -> dict[str, Any]:
    """A generated TypedDict's parameters and their types (``NotRequired`` stripped)."""
    module = __import__(cls.__module__, fromlist=["_"])
    # RequestOptions' keys (inherited, then dropped) name types of its own module.
    local = {**vars(request_options), "StripeContext": StripeContext, **vars(sdk_params)}
    hints = typing.get_type_hints(cls, globalns=vars(module), localns=local)
    return {name: hint for name, hint in hints.items() if name not in _OPTIONS}


def options(hint: Any) -> list[Any]:
    """The alternatives of a type; an enum widened with ``|str`` is its ``Literal`` values only."""
    if get_origin(hint) in (Union, types.UnionType):
        found = [o for a in get_args(hint) for o in options(a)]
    else:
        found = [hint]
    if any(get_origin(o) is Literal for o in found):
        found = [o for o in found if o is not str]
    return found


def _is_typed_dict(hint: Any) -> bool:
    return isinstance(hint, type) and typing_extensions.is_typeddict(hint)


def _scalar(key: str, value: str, hint: Any) -> None:
    alternatives = options(hint)
    literals = [v for o in alternatives if get_origin(o) is Literal for v in get_args(o)]
    if str in alternatives or value == "":
        return  # any string; an empty value unsets a parameter
    if int in alternatives and value.lstrip("-").isdigit():
        return
    if bool in alternatives and value in ("true", "false"):
        return
    if literals and value in literals:
        return
    if literals:
        names = [str(v) for v in literals]
        head = ", ".join(names[:-1])
        listed = names[0] if len(names) == 1 else f"{head}{',' if len(names) > 2 else ''} or {names[-1]}"
        raise StripeError(400, f"Invalid {key}: must be one of {listed}", param=key)
    if int in alternatives:
        raise StripeError(400, f"Invalid integer: {value}", param=key)
    if bool in alternatives:
        raise StripeError(400, f"Invalid boolean: {value}", param=key)
    kinds = "array" if any(get_origin(o) in (list, typing.List) for o in alternatives) else "hash"  # noqa: UP006
    raise StripeError(400, f"Invalid {kinds}", param=key)


def _check(
    key: str, subs: list[str], value: str, hint: Any, nested: dict[str, tuple[type, set[str]]]
) -> None:
    if not subs:
        _scalar(key, value, hint)
        return
    head, rest = subs[0], subs[1:]
    alternatives = options(hint)
    if head == "" or head.isdigit():
        lists = [o for o in alternatives if get_origin(o) in (list, typing.List)]  # noqa: UP006
        if not lists:
            raise unknown(key)
        _check(key, rest, value, get_args(lists[0])[0], nested)
        return
    dicts = [o for o in alternatives if _is_typed_dict(o)]
    maps = [o for o in alternatives if get_origin(o) in (dict, typing.Dict)]  # noqa: UP006
    prefix = key[: len(key) - len("".join(f"[{s}]" for s in subs))]
    if dicts:
        params = fields(dicts[0])
        if head not in params:
            raise unknown(f"{prefix}[{head}]")
        nested.setdefault(prefix, (dicts[0], set()))[1].add(head)
        _check(key, rest, value, params[head], nested)
        return
    if maps and not rest:
        return  # metadata[...]: free-form
    raise unknown(key)


def warm() -> None:
    """Read every endpoint's types now, so that no request pays for it (a client that times its first
    request, as the tap's backfill does, must see the same latency as later ones)."""
    for type_name in set(ENDPOINT_PARAMS.values()):
        fields(getattr(sdk_params, type_name))


def _split(key: str) -> tuple[str, list[str]]:
    name, _, tail = key.partition("[")
    subs = tail[:-1].split("][") if tail else []
    return name, subs


def check(method: str, template: str, pairs: list[tuple[str, str]]) -> None:
    """Raise Stripe's 400 for a parameter ``template``'s endpoint does not take, or a value it refuses."""
    type_name = ENDPOINT_PARAMS.get((method, template))
    if type_name is None:
        if pairs:
            raise unknown(pairs[0][0])
        return
    params = fields(getattr(sdk_params, type_name))
    nested: dict[str, tuple[type, set[str]]] = {}
    for key, value in pairs:
        name, subs = _split(key)
        if name not in params:
            raise unknown(key)
        _check(key, subs, value, params[name], nested)
    for prefix, (cls, present) in nested.items():
        for required in sorted(getattr(cls, "__required_keys__", ())):
            if required not in present:
                missing = f"{prefix}[{required}]"
                raise StripeError(400, f"Missing required param: {missing}.", param=missing)
