"""Edges of the Stripe client found by mutation testing (``scripts/mutation.sh``): when the limiter is off,
slow fractional rates, booleans on the wire, names for counters and messages, what is not retried."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from tap_stripe_billing.client import RateLimiter, StripeAPI, build_path, endpoint_name, resource_name
from tap_stripe_billing.errors import StripeAccessError

from stand_ins.common import StandInHandler, StandInServer

KEY = "sk_live_51EdgesKeyABCDEFGH12345678"


def _limiter(rate: Any) -> tuple[RateLimiter, list[float]]:
    slept: list[float] = []
    return RateLimiter(rate, clock=lambda: 100.0, sleep=slept.append), slept


@pytest.mark.parametrize("rate", [0, -5, None])
def test_limiter_off_for_no_positive_rate(rate: Any) -> None:
    limiter, slept = _limiter(rate)
    for _ in range(3):
        limiter.acquire()
    assert slept == []


def test_limiter_paces_rates_below_one_per_second() -> None:
    limiter, slept = _limiter(0.5)
    for _ in range(3):
        limiter.acquire()
    assert slept == [2.0, 4.0]


def test_booleans_and_brackets_on_the_wire() -> None:
    assert build_path("/v1/x", [("a", True), ("b", False), ("expand[]", "data.customer")]) == (
        "/v1/x?a=true&b=false&expand[]=data.customer"
    )
    assert build_path("/v1/x") == "/v1/x"


def test_names_for_counters_and_messages() -> None:
    assert resource_name("/v1/invoices/in_1/lines?limit=10") == "invoices"
    assert resource_name("/v1") == "/v1"
    assert resource_name("/v1/x") == "x"
    assert endpoint_name("get", "/v1/customers/cus_1?a=1?b") == "GET /v1/customers/{id}"
    assert endpoint_name("get", "/v1/events?types[]=a b") == "GET /v1/events"


class _Scripted(StandInHandler):
    script: ClassVar[list[tuple[int, Any]]] = []
    seen: ClassVar[int] = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            type(self).seen += 1
            status, body = type(self).script.pop(0) if type(self).script else (200, {"id": "x"})
        self.send_json(status, body)


@pytest.fixture
def scripted() -> Iterator[StandInServer]:
    _Scripted.script, _Scripted.seen = [], 0
    with StandInServer(_Scripted) as srv:
        yield srv


@pytest.mark.parametrize("status", [400, 404, 409])
def test_client_errors_are_not_retried(scripted: StandInServer, status: int) -> None:
    _Scripted.script = [(status, {"error": {"message": "No such thing", "type": "invalid_request_error"}})]
    slept: list[float] = []
    api = StripeAPI(KEY, scripted.url, max_requests_per_second=1000, sleep=slept.append)
    with pytest.raises(StripeAccessError) as info:
        api.get("/v1/customers/cus_1")
    assert str(info.value) == f"Stripe refused GET /v1/customers/cus_1 (HTTP {status}): No such thing"
    assert _Scripted.seen == 1 and slept == [] and api.retries == {}


def test_502_is_retried_then_reported_with_its_status(scripted: StandInServer) -> None:
    _Scripted.script = [(502, {"error": {"message": "Bad gateway", "type": "api_error"}})] * 3
    api = StripeAPI(KEY, scripted.url, max_requests_per_second=1000, max_retries=2, sleep=lambda s: None)
    with pytest.raises(StripeAccessError) as info:
        api.get("/v1/invoices")
    assert str(info.value) == "Stripe request GET /v1/invoices failed after 3 attempts: HTTP 502: Bad gateway"
    assert _Scripted.seen == 3 and api.retries == {"GET /v1/invoices": 2}
