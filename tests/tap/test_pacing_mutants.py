"""The limiter and Retry-After rules (``pacing.py``) pinned where mutation testing (scripts/mutation.sh
pacing) found them loose. A fake clock that never moves: each ``acquire`` returns at once and the waits
it asked for are recorded."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest
from tap_stripe_billing.pacing import RateLimiter, retry_after


def _limiter(rate: float, per_endpoint: float | None) -> tuple[RateLimiter, list[float]]:
    slept: list[float] = []
    return RateLimiter(rate, clock=lambda: 0.0, sleep=slept.append, per_endpoint=per_endpoint), slept


@pytest.mark.parametrize(("per_endpoint", "wait"), [(1, 1.0), (0.5, 2.0)])
def test_a_per_endpoint_limit_of_one_a_second_or_less_still_holds(per_endpoint: float, wait: float) -> None:
    limiter, slept = _limiter(1000, per_endpoint)
    limiter.acquire("GET /v1/invoices")
    limiter.acquire("GET /v1/invoices")
    assert slept == pytest.approx([wait])


def test_the_per_endpoint_limit_holds_with_the_overall_limit_off() -> None:
    limiter, slept = _limiter(0, 10)
    for _ in range(3):
        limiter.acquire("GET /v1/invoices")
    limiter.acquire("GET /v1/prices")  # another endpoint: no wait
    assert slept == pytest.approx([0.1, 0.2])


def test_a_request_takes_a_hole_exactly_one_gap_wide() -> None:
    """Overall 10/s, per endpoint 5/s: A starts at 0 and 0.2; B fits at 0.1, between them."""
    limiter, slept = _limiter(10, 5)
    limiter.acquire("A")
    limiter.acquire("A")
    limiter.acquire("B")
    assert slept == pytest.approx([0.2, 0.1])


def test_an_http_date_retry_after_counts_from_now() -> None:
    asked = retry_after({"Retry-After": formatdate(time.time() + 30, usegmt=True)})
    assert asked is not None and 28 <= asked <= 30
