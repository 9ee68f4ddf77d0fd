"""The Stripe client's defaults the tap relies on, pinned (mutation testing, scripts/mutation.sh client).

The tap builds its reader with the api key, URL, rate and backoff base (``base.build_api``) and relies
on the defaults for the rest: 6 retries, a 30 s backoff cap, the real sleep. The jitter is pinned by an
RNG that always draws the top (or the bottom) of its range; nothing sleeps for real.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from tap_stripe_billing.client import StripeAPI
from tap_stripe_billing.errors import StripeAccessError

from stand_ins.common import StandInHandler, StandInServer

KEY = "sk_live_51MutantsKeyABCDEFGH12345678"


class _Failing(StandInHandler):
    seen: ClassVar[int] = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            type(self).seen += 1
        self.send_json(500, {"error": {"message": "Try later", "type": "api_error"}}, {})


@pytest.fixture
def failing() -> Iterator[StandInServer]:
    _Failing.seen = 0
    with StandInServer(_Failing) as srv:
        yield srv


class _Top(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b


class _Bottom(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return a


def _slept_until_failure(url: str, **options: Any) -> list[float]:
    slept: list[float] = []
    api = StripeAPI(KEY, url, max_requests_per_second=1000, sleep=slept.append, **options)
    with pytest.raises(StripeAccessError) as info:
        api.get("/v1/invoices")
    assert str(info.value) == (
        f"Stripe request GET /v1/invoices failed after {len(slept) + 1} attempts: HTTP 500: Try later"
    )
    assert api.retries == {"GET /v1/invoices": len(slept)}
    return slept


def test_six_retries_by_default_with_exponential_backoff_from_half_a_second(
    failing: StandInServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(random, "Random", _Top)
    assert _slept_until_failure(failing.url) == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0]
    assert _Failing.seen == 7


def test_the_backoff_is_capped_at_30_seconds_by_default(
    failing: StandInServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(random, "Random", _Top)
    assert _slept_until_failure(failing.url, backoff_base=2.0) == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_the_jitter_waits_at_least_a_tenth_of_the_backoff(
    failing: StandInServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(random, "Random", _Bottom)
    slept = _slept_until_failure(failing.url, max_retries=3, backoff_base=2.0, backoff_cap=5.0)
    assert slept == pytest.approx([0.2, 0.4, 0.5])
