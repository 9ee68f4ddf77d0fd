"""The ``/v1/`` REST subset: the route table, request matching, the Stripe-Version a request is answered in
and dispatch (handlers in ``api_handlers``, list filters in ``api_filters``, the request in ``api_call``)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from . import params
from .account import Account
from .api_call import KINDS, Call, Handler
from .api_handlers import account, invoice_lines, list_handler, retrieve_charge, retrieve_handler
from .errors import StripeError
from .keys import KeyInfo
from .versions import CURRENT_API_VERSION


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
