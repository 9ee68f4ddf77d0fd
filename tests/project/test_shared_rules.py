"""Rules the tap and the target each need keep one copy per package (they ship as separate wheels):
these tests check that the copies agree. The Stripe stand-in keeps its own copy of the months-per-interval
rule on purpose (it is the oracle); both are pinned to SPEC §2's literal vectors."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from tap_stripe_billing import money as tap_money
from tap_stripe_billing.pacing import backoff_ceiling, backoff_delay
from tap_stripe_billing.settings import is_loopback_host
from target_kissmetrics.settings import is_loopback
from target_kissmetrics.transport import Transport

from stand_ins.stripe import money

HOSTS = ["localhost", "LOCALHOST", "127.0.0.1", "127.8.9.1", "::1", "0.0.0.0", "10.0.0.1", "example.com",
         "localhost.example.com", "api.stripe.com", "::ffff:10.0.0.1", "128.0.0.1"]  # fmt: skip


@pytest.mark.parametrize("host", HOSTS)
def test_loopback_rule_agrees(host: str) -> None:
    assert is_loopback_host(host) == is_loopback(host)


def test_loopback_rule_vectors() -> None:
    assert [h for h in HOSTS if is_loopback_host(h)] == [
        "localhost",
        "LOCALHOST",
        "127.0.0.1",
        "127.8.9.1",
        "::1",
    ]


def test_backoff_rule_agrees() -> None:
    """Both packages wait at most min(cap, base x 2^attempt) before retry ``attempt``."""
    transport = Transport(
        "https://trk.example.com", "k", backoff_base_seconds=0.5, backoff_cap_seconds=8, seed=3
    )
    rng = random.Random(3)
    try:
        for attempt in range(10):
            ceiling = backoff_ceiling(attempt, 0.5, 8)
            assert ceiling == min(8, 0.5 * 2**attempt)
            target_waits = [transport._backoff(attempt) for _ in range(200)]
            tap_waits = [backoff_delay(attempt, 0.5, 8, rng) for _ in range(200)]
            assert max(target_waits) <= ceiling and max(tap_waits) <= ceiling
            assert max(target_waits) > 0.8 * ceiling and max(tap_waits) > 0.8 * ceiling
    finally:
        transport.close()


# SPEC §2: interval_count x {month 1, year 12, week 12/52.1775, day 12/365.25}, rounded to 4 decimals.
MONTHS = [("month", 1, "1"), ("month", 3, "3"), ("year", 1, "12"), ("week", 1, "0.23"), ("week", 2, "0.46"),
          ("day", 1, "0.0329"), ("day", 30, "0.9856"), ("day", 7, "0.23")]  # fmt: skip


@pytest.mark.parametrize(("interval", "count", "months"), MONTHS)
def test_months_per_interval_tap_and_oracle(interval: str, count: int, months: str) -> None:
    assert tap_money.billing_length_months(interval, count) == Decimal(months)
    assert money.billing_length_months(interval, count) == Decimal(months)
