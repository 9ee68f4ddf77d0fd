"""Stripe's limits as the tap honours them: the per-endpoint cap (Stripe's 25/s by default), whatever
``max_requests_per_second`` says, and ``Retry-After`` when Stripe sends one."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from email.utils import formatdate
from typing import Any, ClassVar

import pytest
from tap_stripe_billing.client import StripeAPI
from tap_stripe_billing.errors import StripeAccessError
from tap_stripe_billing.pacing import MAX_RETRY_AFTER, RateLimiter, retry_after
from tap_stripe_billing.settings import Settings
from tap_stripe_billing.tap import TapStripeBilling

from stand_ins.common import StandInHandler, StandInServer
from stand_ins.stripe import LIVE_KEY, AccountConfig, StripeStandIn, generate_account


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))


def test_one_endpoint_never_gets_more_than_its_cap_whatever_the_overall_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1000, clock=lambda: clock.now, sleep=clock.sleep, per_endpoint=25)
    for _ in range(5):
        limiter.acquire("GET /v1/invoices")
    assert clock.slept == pytest.approx([0.04, 0.08, 0.12, 0.16])


def test_a_request_waiting_for_its_endpoint_holds_no_slot_from_other_endpoints() -> None:
    clock = FakeClock()
    limiter = RateLimiter(100, clock=lambda: clock.now, sleep=clock.sleep, per_endpoint=25)
    for _ in range(3):
        limiter.acquire("GET /v1/invoices")  # starts 0, 0.04, 0.08
    limiter.acquire("GET /v1/prices")  # the first gap of 10 ms the overall limit leaves: 0.01
    limiter.acquire("GET /v1/prices")  # its own endpoint's gap: 0.05 (0.04 + 10 ms is free)
    assert clock.slept == pytest.approx([0.04, 0.08, 0.01, 0.05])


def test_overall_limit_still_holds_across_endpoints() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, clock=lambda: clock.now, sleep=clock.sleep, per_endpoint=25)
    for name in ("a", "b", "c", "d"):
        limiter.acquire(name)
    assert clock.slept == pytest.approx([0.1, 0.2, 0.3])


def test_the_per_endpoint_cap_is_a_setting_with_stripes_default() -> None:
    settings = Settings.from_config({"api_key": LIVE_KEY})
    assert settings.max_requests_per_second_per_endpoint == 25
    raised = Settings.from_config({"api_key": LIVE_KEY, "max_requests_per_second_per_endpoint": " 80 "})
    assert raised.max_requests_per_second_per_endpoint == 80
    description = TapStripeBilling.config_jsonschema["properties"]["max_requests_per_second_per_endpoint"]
    assert "25/s per endpoint" in description["description"]


def test_retry_after_header_values() -> None:
    assert retry_after({"Retry-After": "3"}) == 3
    assert retry_after({"retry-after": "0.5"}) == 0.5
    assert retry_after({"Retry-After": formatdate(1_000_010, usegmt=True)}, now=1_000_000) == 10
    assert retry_after({"Retry-After": "99999"}) == MAX_RETRY_AFTER
    assert retry_after({"Retry-After": "soon"}) is None
    assert retry_after({}) is None
    assert retry_after(None) is None


class Limited(StandInHandler):
    """Answers 429 with the scripted headers once, then an empty list."""

    headers_429: ClassVar[dict[str, str]] = {}
    calls: ClassVar[int] = 0

    def do_GET(self) -> None:
        type(self).calls += 1
        if type(self).calls == 1:
            body = {"error": {"message": "Request rate limit exceeded.", "type": "invalid_request_error"}}
            body["error"]["code"] = "rate_limit"
            self.send_json(429, body, type(self).headers_429)
            return
        self.send_json(200, {"object": "list", "data": [], "has_more": False}, {})


@pytest.mark.parametrize(("headers", "least"), [({"Retry-After": "7"}, 7.0), ({}, 0.0)])
def test_the_client_waits_as_long_as_retry_after_asks(headers: dict[str, str], least: float) -> None:
    Limited.headers_429, Limited.calls = headers, 0
    slept: list[float] = []
    with StandInServer(Limited) as server:
        api = StripeAPI(
            LIVE_KEY, server.url, max_requests_per_second=1000, backoff_base=0.01, sleep=slept.append
        )
        assert api.get("/v1/invoices") == {"object": "list", "data": [], "has_more": False}
    assert len(slept) == 1
    assert slept[0] >= least
    assert slept[0] <= max(least, 0.01)


def _run(server: StripeStandIn, **config: Any) -> tuple[int, dict[str, int]]:
    cfg = {"api_key": LIVE_KEY, "api_url": server.url, "max_requests_per_second": 1000, **config}
    tap = TapStripeBilling(config=cfg, state={})
    for name, stream in tap.streams.items():
        stream.metadata.root.selected = name == "subscription_billed"
        stream._mask = None
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        tap.sync_all()
    records = sum(1 for line in out.getvalue().splitlines() if json.loads(line)["type"] == "RECORD")
    return records, dict(tap.streams["subscription_billed"].summary["retries"])


@pytest.mark.slow
def test_against_a_stripe_that_enforces_its_per_endpoint_limit() -> None:
    """The stand-in enforces 5 requests/s per endpoint (Stripe's 25, scaled down to keep the test short).
    With the cap at that limit, a parallel backfill at 1,000 requests/s overall is never refused; with the
    cap raised above it, Stripe's 429s come back (retried, until they fail the run)."""
    account = generate_account(AccountConfig(seed=3, invoices=800, history_days=120, horizon_days=3))
    with StripeStandIn(account, port=0, endpoint_rate_limit=5) as server:
        records, retries = _run(server, max_requests_per_second_per_endpoint=5)
        assert records > 0
        assert retries == {}
        assert server.limits.refused == {}
        try:
            _, retries = _run(server, max_requests_per_second_per_endpoint=1000, backoff_base_seconds=0.05)
        except StripeAccessError as exc:
            assert "rate limited (429)" in str(exc)
        else:
            assert sum(retries.values()) == sum(server.limits.refused.values())
        assert sum(server.limits.refused.values()) > 0
