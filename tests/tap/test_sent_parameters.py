"""Parameters the tap sends in cases the generated stand-in account does not hold, checked against
stripe-python 16.1.0's ``stripe.params`` types as Stripe checks them (strict_params)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tap_stripe_billing.client import endpoint_name
from tap_stripe_billing.errors import StripeAccessError
from tap_stripe_billing.state import to_iso
from tap_stripe_billing.tap import TapStripeBilling

from stand_ins.stripe.errors import StripeError
from stand_ins.stripe.strict_params import check
from tests.tap.harness import LIVE_KEY, run_tap

NOW = 1_793_491_200


class StrictStripe:
    """A few objects in memory; every request's parameters are checked as Stripe checks them."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        self.requests: dict[str, int] = {}
        self.retries: dict[str, int] = {}

    def clock(self) -> int:
        return NOW

    def request_summary(self) -> dict[str, int]:
        return dict(self.requests)

    def get(
        self, path: str, params: Any = (), *, missing_ok: bool = False, stripe_version: str | None = None
    ) -> dict[str, Any] | None:
        template = endpoint_name("GET", path).split(" ", 1)[1]
        self.requests[template] = self.requests.get(template, 0) + 1
        try:
            check("GET", template, [(k, str(v)) for k, v in params])
        except StripeError as err:
            raise StripeAccessError(f"Stripe refused GET {path}: {err.body()['error']['message']}") from None
        if template == "/v1/events":
            return {"object": "list", "data": self.events, "has_more": False}
        if template == "/v1/charges/{id}":  # a one-off charge: it paid no invoice
            return {"id": path.rsplit("/", 1)[1], "object": "charge", "invoice": None}
        return {"object": "list", "data": [], "has_more": False}

    def list_pages(self, path: str, params: Any = ()) -> Iterator[list[dict[str, Any]]]:
        body = self.get(path, params)
        assert body is not None
        if body["data"]:
            yield body["data"]

    def list_all(self, path: str, params: Any = ()) -> Iterator[dict[str, Any]]:
        for page in self.list_pages(path, params):
            yield from page


def charges_api_refund_event() -> dict[str, Any]:
    """A refund of a payment made with the Charges API (old integrations, one-off charges): it has a
    charge and no PaymentIntent."""
    refund = {
        "id": "re_charges_api",
        "object": "refund",
        "amount": 1000,
        "charge": "ch_charges_api",
        "created": NOW - 1800,
        "currency": "usd",
        "payment_intent": None,
        "reason": "requested_by_customer",
        "status": "succeeded",
    }
    return {
        "id": "evt_refund",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": NOW - 1800,
        "livemode": True,
        "type": "refund.created",
        "data": {"object": refund},
    }


def test_a_charges_api_refund_sends_only_parameters_stripe_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = StrictStripe([charges_api_refund_event()])
    monkeypatch.setattr(TapStripeBilling, "build_api", lambda self: fake)
    stream = "subscription_refunded"
    state = {
        "bookmarks": {stream: {"replication_key": "refunded_at", "replication_key_value": to_iso(NOW - 3600)}}
    }
    run_tap({"api_key": LIVE_KEY, "api_url": "http://127.0.0.1:9"}, state, streams=(stream,))
    # The refund is linked through its charge (read in an older Stripe-Version), never through
    # invoice_payments with payment[type]=charge, which Stripe refuses.
    assert fake.requests.get("/v1/charges/{id}") == 1
    assert "/v1/invoice_payments" not in fake.requests
