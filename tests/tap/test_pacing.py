"""The tap waits where it must: before every retry, and between requests (the client-side rate limit).

Checked three ways: the client with a recording ``sleep``; the client with the real clock against a
scripted loopback server; and the whole tap, configured as a user configures it, against the Stripe
stand-in, with the stand-in noting when each request arrived. The last one is what a user gets: it fails
if the retry sleep is removed, if the limiter is switched off, or if the tap stops passing
``max_requests_per_second`` / ``backoff_base_seconds`` to its client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from tap_stripe_billing.client import StripeAPI
from tap_stripe_billing.state import to_iso

from stand_ins.common import StandInHandler, StandInServer
from stand_ins.stripe import LIVE_KEY, AccountConfig, StripeStandIn, generate_account
from tests.tap.harness import run_tap

KEY = "sk_live_51PacingKeyABCDEFGH123456"
DAY = 86_400


class _Scripted(StandInHandler):
    """Answers from ``script`` ((status, body)), then 200 with an empty list; notes arrival times."""

    script: ClassVar[list[tuple[int, Any]]] = []
    arrivals: ClassVar[list[float]] = []
    lock = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            type(self).arrivals.append(time.monotonic())
            status, body = (
                type(self).script.pop(0)
                if type(self).script
                else (200, {"object": "list", "data": [], "has_more": False})
            )
        self.send_json(status, body)


@pytest.fixture
def scripted() -> Iterator[StandInServer]:
    _Scripted.script, _Scripted.arrivals = [], []
    with StandInServer(_Scripted) as srv:
        yield srv


def _error(status: int) -> tuple[int, Any]:
    return status, {"error": {"message": "try again", "type": "api_error"}}


def test_client_sleeps_before_every_retry_with_growing_backoff(scripted: StandInServer) -> None:
    _Scripted.script = [_error(429), _error(500), _error(503), (200, {"id": "cus_1"})]
    slept: list[float] = []
    api = StripeAPI(KEY, scripted.url, max_requests_per_second=1000, backoff_base=0.5, sleep=slept.append)
    assert api.get("/v1/customers/cus_1") == {"id": "cus_1"}
    assert len(slept) == 3  # one wait before each of the 3 retries, none before the first attempt
    for attempt, delay in enumerate(slept):
        ceiling = 0.5 * 2**attempt
        assert 0 < delay <= ceiling, (attempt, delay)


def test_client_sleeps_for_real_between_attempts(scripted: StandInServer) -> None:
    """The default ``sleep`` is the real one: the server sees the retry come at least 10% of the first
    backoff later (the client's jitter floor), not at once."""
    _Scripted.script = [_error(500), (200, {"id": "cus_1"})]
    api = StripeAPI(KEY, scripted.url, max_requests_per_second=1000, backoff_base=2.0)
    assert api.get("/v1/customers/cus_1") == {"id": "cus_1"}
    first, second = _Scripted.arrivals
    assert second - first >= 0.2 - 0.01


def test_client_paces_requests_at_its_configured_rate(scripted: StandInServer) -> None:
    api = StripeAPI(KEY, scripted.url, max_requests_per_second=25)
    for _ in range(11):
        api.get("/v1/invoices")
    span = _Scripted.arrivals[-1] - _Scripted.arrivals[0]
    assert span >= 10 / 25 - 0.02  # 10 intervals of 1/25 s


class _TimedStripe(StripeStandIn):
    """The Stripe stand-in, noting when each API request arrived (faulted ones included)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: list[tuple[float, str]] = []

    def count(self, route: str) -> None:
        self.arrivals.append((time.monotonic(), route))
        super().count(route)


@pytest.fixture(scope="module")
def stripe() -> Iterator[_TimedStripe]:
    account = generate_account(AccountConfig(seed=5, invoices=300, history_days=30, horizon_days=1))
    with _TimedStripe(account, port=0) as srv:
        yield srv


def _tap_config(stripe: _TimedStripe, **extra: Any) -> dict[str, Any]:
    return {
        "api_key": LIVE_KEY,
        "api_url": stripe.url,
        "start_date": to_iso(stripe.account.now - 20 * DAY),
        **extra,
    }


def test_tap_run_stays_within_max_requests_per_second(stripe: _TimedStripe) -> None:
    """A parallel backfill (16 threads) at ``max_requests_per_second: 12`` (not the default 20): the
    requests of the whole run are spread at least 1/12 s apart on average, whatever the threads."""
    stripe.arrivals.clear()
    result = run_tap(_tap_config(stripe, max_requests_per_second=12, backfill_parallelism=16))
    assert result.records
    times = sorted(t for t, _ in stripe.arrivals)
    assert len(times) >= 8, stripe.arrivals
    # Arrivals are timed at the stand-in, so a loaded machine can delay the first request's arrival
    # more than the last one's; 0.15 s (about 3% of the ~4.5 s span) absorbs that and still fails a
    # limiter that is switched off (span near 0) or a few percent too fast.
    assert times[-1] - times[0] >= (len(times) - 1) / 12 - 0.15


def test_tap_waits_before_retrying_stripe(stripe: _TimedStripe) -> None:
    """Two 500s in a row, ``backoff_base_seconds: 2``: the retries arrive at least 0.2 s and 0.4 s
    (10% of 2 s and 4 s, the client's jitter floor) after the failed attempts, not at once."""
    stripe.arrivals.clear()
    stripe.faults.configure(schedule={1: "500", 2: "500"}, path_prefixes=["/v1/"])
    try:
        result = run_tap(_tap_config(stripe, max_requests_per_second=1000, backoff_base_seconds=2))
    finally:
        stripe.faults.clear()
    assert result.records
    assert sum(result.summary["retries"].values()) == 2
    (t1, r1), (t2, r2), (t3, r3) = stripe.arrivals[:3]
    assert r1 == r2 == r3  # the same request, tried three times
    assert t2 - t1 >= 0.2 - 0.01
    assert t3 - t2 >= 0.4 - 0.01
