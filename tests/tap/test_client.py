"""The Stripe client wrapper against a scripted loopback server: retries, errors, redaction, counting."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from tap_stripe_billing.client import RateLimiter, StripeAPI, backoff_delay, build_path, endpoint_name
from tap_stripe_billing.errors import StripeAccessError, redact

from stand_ins.common import StandInHandler, StandInServer

KEY = "sk_live_51ScriptedKeyABCDEFGH1234"


class Scripted(StandInHandler):
    """Answers from ``script`` (a list of (status, body, headers)); then 200 with an empty list."""

    script: ClassVar[list[tuple[int, Any, dict[str, str]]]] = []
    seen: ClassVar[list[str]] = []
    lock = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            type(self).seen.append(self.path)
            item = (
                type(self).script.pop(0)
                if type(self).script
                else (200, {"object": "list", "data": [], "has_more": False}, {})
            )
        status, body, headers = item
        if status == -1:
            self.reset_connection()
            return
        self.send_json(status, body, headers)


@pytest.fixture(scope="module")
def shared_server() -> Iterator[StandInServer]:
    with StandInServer(Scripted) as srv:
        yield srv


@pytest.fixture
def server(shared_server: StandInServer) -> StandInServer:
    Scripted.script = []
    Scripted.seen = []
    return shared_server


def api_for(server: StandInServer, **kwargs: Any) -> StripeAPI:
    return StripeAPI(KEY, server.url, max_requests_per_second=1000, sleep=lambda s: None, **kwargs)


def err(message: str, type_: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": type_}}


def test_query_strings_are_stripe_style() -> None:
    assert build_path("/v1/events", [("types[]", "invoice.paid"), ("created[gte]", 5), ("limit", 100)]) == (
        "/v1/events?types[]=invoice.paid&created[gte]=5&limit=100"
    )
    assert endpoint_name("get", "/v1/invoices/in_1/lines?limit=100") == "GET /v1/invoices/{id}/lines"
    assert endpoint_name("get", "/v1/prices") == "GET /v1/prices"


def test_pagination_and_counting(server: StandInServer) -> None:
    Scripted.script = [
        (200, {"object": "list", "data": [{"id": "in_3"}, {"id": "in_2"}], "has_more": True}, {}),
        (200, {"object": "list", "data": [{"id": "in_1"}], "has_more": False}, {}),
    ]
    api = api_for(server)
    got = [o["id"] for o in api.list_all("/v1/invoices", [("status", "paid"), ("limit", 2)])]
    assert got == ["in_3", "in_2", "in_1"]
    assert Scripted.seen[1].endswith("starting_after=in_2")
    assert api.request_summary() == {"GET /v1/invoices": 2}


@pytest.mark.parametrize(
    "fault",
    [
        (429, err("Too many requests", "rate_limit_error"), {"Stripe-Should-Retry": "true"}),
        (429, err("Too many requests", "rate_limit_error"), {}),
        (500, err("oops", "api_error"), {}),
        (503, err("unavailable", "api_error"), {}),
        (-1, None, {}),
    ],
)
def test_retries_transient_faults(server: StandInServer, fault: tuple[int, Any, dict[str, str]]) -> None:
    Scripted.script = [fault, fault, (200, {"id": "cus_1", "email": "a@b.c"}, {})]
    api = api_for(server)
    assert api.get("/v1/customers/cus_1") == {"id": "cus_1", "email": "a@b.c"}
    assert api.request_summary() == {"GET /v1/customers/{id}": 3}
    assert api.retries["GET /v1/customers/{id}"] == 2


def test_gives_up_with_one_clear_message(server: StandInServer) -> None:
    Scripted.script = [(429, err(f"Slow down {KEY}", "rate_limit_error"), {})] * 4
    api = api_for(server, max_retries=3)
    with pytest.raises(StripeAccessError) as info:
        api.get("/v1/invoices")
    message = str(info.value)
    assert "failed after 4 attempts" in message and "429" in message
    assert KEY not in message and "sk_live_" not in message


def test_401_message_never_echoes_the_key(server: StandInServer) -> None:
    Scripted.script = [(401, err("Invalid API Key provided: sk_live_****1234"), {})]
    with pytest.raises(StripeAccessError) as info:
        api_for(server).get("/v1/events")
    assert str(info.value) == "Stripe rejected the API key (401 Unauthorized): check api_key"


def test_403_names_the_resource(server: StandInServer) -> None:
    message = (
        "The provided key 'rk_live_****0001' does not have the required permissions for this endpoint on "
        "account 'acct_1'. Having the 'rak_invoice_read' permission would allow this request to continue."
    )
    Scripted.script = [(403, err(message), {})]
    with pytest.raises(StripeAccessError) as info:
        api_for(server).get("/v1/invoices/in_1/lines")
    assert "may not read invoices" in str(info.value)
    assert "rk_live_" not in str(info.value)


def test_404_missing_ok(server: StandInServer) -> None:
    Scripted.script = [(404, err("No such price: 'price_x'"), {})]
    assert api_for(server).get("/v1/prices/price_x", missing_ok=True) is None


def test_redact() -> None:
    assert redact("key sk_live_abc123 and rk_test_****9999 and pk_live_x.") == (
        "key [redacted key] and [redacted key] and [redacted key]."
    )


def test_backoff_grows_and_is_capped() -> None:
    import random

    rng = random.Random(1)
    delays = [backoff_delay(n, 0.5, 8, rng) for n in range(10)]
    assert all(d <= 8 for d in delays)
    assert max(delays[:2]) <= 1.0 < max(delays[4:])


def test_rate_limiter_paces_threads() -> None:
    clock = [0.0]
    slept: list[float] = []
    limiter = RateLimiter(10, clock=lambda: clock[0], sleep=slept.append)
    for _ in range(5):
        limiter.acquire()
    assert slept == pytest.approx([0.1, 0.2, 0.3, 0.4])

    real = RateLimiter(50)
    start = time.monotonic()
    threads = [threading.Thread(target=lambda: [real.acquire() for _ in range(5)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - start >= 19 / 50 - 0.01
