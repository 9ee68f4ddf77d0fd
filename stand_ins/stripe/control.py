"""``/_standin/…`` control endpoints (no auth, JSON): clock, latency, faults, stats, ground truth."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .money import iso
from .truth import expected_billed, expected_refunds
from .truth_lifecycle import expected_cancellations

if TYPE_CHECKING:
    from .account import Account
    from .server import StripeStandIn

Control = Callable[["StripeStandIn", dict[str, Any], dict[str, str]], tuple[int, Any]]


def _clock(server: StripeStandIn) -> dict[str, Any]:
    return {"now": server.account.now, "iso": iso(server.account.now)}


def get_clock(server: StripeStandIn, body: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
    return 200, _clock(server)


def set_clock(server: StripeStandIn, body: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
    server.account.set_now(int(body["now"]))
    return 200, _clock(server)


def advance(server: StripeStandIn, body: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
    server.account.advance(
        hours=float(body.get("hours", 0)),
        minutes=float(body.get("minutes", 0)),
        seconds=float(body.get("seconds", 0)),
        days=float(body.get("days", 0)),
    )
    return 200, _clock(server)


def latency(server: StripeStandIn, body: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
    server.latency_seconds = float(body.get("ms", 0)) / 1000
    return 200, {"ms": server.latency_seconds * 1000}


def faults(server: StripeStandIn, body: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
    server.faults.configure(
        rates=body.get("rates"),
        schedule=body.get("schedule"),
        path_prefixes=("/v1/",),
        seed=body.get("seed"),
    )
    if "slow_seconds" in body:
        server.slow_seconds = float(body["slow_seconds"])
    return 200, server.faults.describe()


def rate_limits(server: StripeStandIn, body: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
    """``{"per_endpoint": 25}`` enforces Stripe's per-endpoint limit (requests/s); null turns it off."""
    value = body.get("per_endpoint")
    server.limits.configure(float(value) if value else None)
    return 200, server.limits.describe()


def get_rate_limits(server: StripeStandIn, body: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
    return 200, server.limits.describe()


def get_faults(server: StripeStandIn, body: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
    return 200, server.faults.describe()


def stats(server: StripeStandIn, body: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
    return 200, server.stats()


def reset_stats(server: StripeStandIn, body: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
    server.reset_stats()
    return 200, server.stats()


def mutate(server: StripeStandIn, body: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
    """Change data the way a Stripe user can between two runs (for replay-with-drift tests).

    ``price_nickname_suffix``: every price gets ``nickname = <its plan level> + suffix`` (a rename);
    ``customer_email_prefix``: every customer with an email gets ``prefix + email`` (invoices keep their
    finalization snapshot ``customer_email``, as on Stripe). Answers how many objects changed.
    """
    account = server.account
    renamed = emails = 0
    suffix = body.get("price_nickname_suffix")
    if suffix:
        for price in account.prices:
            price.nickname = (price.nickname or price.lookup_key or price.product.name or price.id) + suffix
            renamed += 1
    prefix = body.get("customer_email_prefix")
    if prefix:
        for customer in account.customers:
            if customer.email:
                customer.email = prefix + customer.email
                emails += 1
    return 200, {"prices_renamed": renamed, "customer_emails_changed": emails}


def _flag(query: dict[str, str], name: str) -> bool:
    return query.get(name, "").lower() in ("1", "true", "yes")


def truth_billed(server: StripeStandIn, body: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
    account = _truth_account(server, query)
    paid_before = int(query.get("paid_before") or account.now + 1)
    paid_from = int(query["paid_from"]) if query.get("paid_from") else None
    records = expected_billed(
        account,
        paid_before,
        paid_from,
        include_test=_flag(query, "include_test"),
        include_zero=_flag(query, "include_zero"),
    )
    return 200, json.loads(
        json.dumps(sorted(records.values(), key=lambda r: (r["paid_at"], r["invoice_id"])), default=_plain)
    )


def truth_refunds(server: StripeStandIn, body: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
    """``expected_refunds`` for ``from <= created < before`` (defaults: all, up to the clock)."""
    account = _truth_account(server, query)
    before = int(query.get("before") or account.now + 1)
    after = int(query["from"]) if query.get("from") else None
    records = expected_refunds(account, before, after)
    return 200, json.loads(json.dumps(sorted(records.values(), key=lambda r: r["refund_id"]), default=_plain))


def truth_cancellations(
    server: StripeStandIn, body: dict[str, Any], query: dict[str, str]
) -> tuple[int, Any]:
    """``expected_cancellations`` for ``from <= canceled_at < before`` (defaults: all, up to the clock)."""
    account = _truth_account(server, query)
    before = int(query.get("before") or account.now + 1)
    after = int(query["from"]) if query.get("from") else None
    records = expected_cancellations(account, before, after, include_test=_flag(query, "include_test"))
    ordered = sorted(records.values(), key=lambda r: r["subscription_id"])
    return 200, json.loads(json.dumps(ordered, default=_plain))


def _truth_account(server: StripeStandIn, query: dict[str, str]) -> Account:
    """The account a ground-truth question is about: ``?account=acct_…`` (a connected one), else the
    platform's own."""
    connected = query.get("account")
    return server.platform.generated(connected, server.account.now) if connected else server.account


def connect(server: StripeStandIn, body: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
    """``{"accounts": N, "invoices": M}``: add N connected accounts of M invoices each; their ids."""
    invoices = body.get("invoices")
    return 200, {"added": server.connect(int(body["accounts"]), None if invoices is None else int(invoices))}


def get_accounts(server: StripeStandIn, body: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
    """The connected accounts (revoked ones too) and the requests each received."""
    accounts = server.platform.accounts.values()
    return 200, [
        {"id": a.id, "revoked": a.revoked, "requests": server.account_stats.get(a.id, 0)} for a in accounts
    ]


def revoke(server: StripeStandIn, body: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
    """``{"account": "acct_…", "revoked": true}``: revoke (false: give back) access to the account."""
    server.platform.revoke(str(body["account"]), bool(body.get("revoked", True)))
    return 200, {"account": body["account"], "revoked": bool(body.get("revoked", True))}


def _plain(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


CONTROLS: dict[tuple[str, str], Control] = {
    ("GET", "/_standin/clock"): get_clock,
    ("POST", "/_standin/clock"): set_clock,
    ("POST", "/_standin/advance"): advance,
    ("POST", "/_standin/latency"): latency,
    ("GET", "/_standin/faults"): get_faults,
    ("GET", "/_standin/rate_limits"): get_rate_limits,
    ("POST", "/_standin/rate_limits"): rate_limits,
    ("POST", "/_standin/faults"): faults,
    ("GET", "/_standin/stats"): stats,
    ("POST", "/_standin/stats/reset"): reset_stats,
    ("GET", "/_standin/truth/billed"): truth_billed,
    ("GET", "/_standin/truth/refunds"): truth_refunds,
    ("GET", "/_standin/truth/cancellations"): truth_cancellations,
    ("POST", "/_standin/mutate"): mutate,
    ("POST", "/_standin/connect"): connect,
    ("GET", "/_standin/accounts"): get_accounts,
    ("POST", "/_standin/accounts/revoke"): revoke,
}
