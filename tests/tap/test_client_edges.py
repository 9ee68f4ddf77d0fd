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
    headers: ClassVar[dict[str, str]] = {}
    lock = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            type(self).seen += 1
            status, body = type(self).script.pop(0) if type(self).script else (200, {"id": "x"})
        self.send_json(status, body, dict(type(self).headers))


@pytest.fixture
def scripted() -> Iterator[StandInServer]:
    _Scripted.script, _Scripted.seen, _Scripted.headers = [], 0, {}
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


def test_stripe_clock_comes_from_the_date_header(scripted: StandInServer) -> None:
    _Scripted.headers = {"Date": "Sun, 01 Nov 2026 00:00:00 GMT"}
    api = StripeAPI(KEY, scripted.url + "/", max_requests_per_second=1000)
    assert api.server_time is None
    assert api.clock() == 1_793_491_200  # one probe request
    assert api.clock() == 1_793_491_200 and _Scripted.seen == 1  # no second request
    _Scripted.headers = {"Date": "Sun, 01 Nov 2026 01:00:00 GMT"}
    api.get("/v1/prices")
    assert api.server_time == 1_793_494_800  # every answer moves it
    assert api.request_summary() == {"GET /v1/invoices": 1, "GET /v1/prices": 1}


def test_without_a_usable_date_header_the_local_clock(scripted: StandInServer) -> None:
    import time

    _Scripted.headers = {"Date": "not a date"}
    api = StripeAPI(KEY, scripted.url, max_requests_per_second=1000)
    before = int(time.time())
    assert before <= api.clock() <= int(time.time()) + 1
    assert api.server_time is None


def test_404_is_an_error_unless_missing_is_fine(scripted: StandInServer) -> None:
    missing = (404, {"error": {"message": "No such price: 'price_x'", "type": "invalid_request_error"}})
    _Scripted.script = [missing, missing]
    api = StripeAPI(KEY, scripted.url, max_requests_per_second=1000, sleep=lambda s: None)
    with pytest.raises(StripeAccessError, match=r"^Stripe refused GET /v1/prices/price_x \(HTTP 404\)"):
        api.get("/v1/prices/price_x")
    assert api.get("/v1/prices/price_x", missing_ok=True) is None


@pytest.mark.parametrize(
    ("status", "what"),
    [(429, "rate limited (429)"), (500, "HTTP 500"), (503, "HTTP 503")],
)
def test_exhausted_retries_name_the_failure(scripted: StandInServer, status: int, what: str) -> None:
    _Scripted.script = [(status, {"error": {"message": "Try later", "type": "api_error"}})] * 2
    api = StripeAPI(KEY, scripted.url, max_requests_per_second=1000, max_retries=1, sleep=lambda s: None)
    with pytest.raises(StripeAccessError) as info:
        api.get("/v1/events")
    assert str(info.value) == f"Stripe request GET /v1/events failed after 2 attempts: {what}: Try later"


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (401, "Stripe rejected the API key (401 Unauthorized): check api_key"),
        (
            403,
            "The Stripe key may not read events (403 Forbidden on GET /v1/events): "
            "give the restricted key read access to events",
        ),
    ],
)
def test_key_problems_have_their_own_message(scripted: StandInServer, status: int, message: str) -> None:
    _Scripted.script = [(status, {"error": {"message": "nope", "type": "invalid_request_error"}})]
    api = StripeAPI(KEY, scripted.url, max_requests_per_second=1000, sleep=lambda s: None)
    with pytest.raises(StripeAccessError) as info:
        api.get("/v1/events")
    assert str(info.value) == message and _Scripted.seen == 1
