"""Stripe's per-endpoint rate limit, as the stand-in enforces it (off unless configured).

Stripe (docs.stripe.com/rate-limits) limits each API endpoint to 25 requests per second by default, on
top of the account's global limit (100/s live); it counts each named operation as one endpoint (requests
to ``GET /v1/invoices/{id}/lines`` for different ids share one limit) and answers a request over the
limit with HTTP 429 and an error whose ``code`` is ``rate_limit``. The stand-in models the limit as a
token bucket per endpoint: ``per_second`` tokens a second, up to ``per_second`` saved (one second's
worth, so a client that paces itself at the limit is never refused). ``refused`` counts the 429s.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

from .errors import StripeError

RATE_LIMITED_MESSAGE = (
    "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits."
)


def rate_limited() -> StripeError:
    """Stripe's answer to a request over a rate limit."""
    return StripeError(429, RATE_LIMITED_MESSAGE, code="rate_limit")


class EndpointLimits:
    """Token buckets by endpoint (``METHOD /v1/route-template``); ``per_second`` None: no limit."""

    def __init__(self, per_second: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # endpoint -> (tokens, at)
        self.per_second = per_second
        self.refused: Counter[str] = Counter()

    def configure(self, per_second: float | None) -> None:
        with self._lock:
            self.per_second = per_second
            self._buckets.clear()
            self.refused.clear()

    def admit(self, endpoint: str) -> bool:
        """Take a token for ``endpoint``; False (counted) when its bucket is empty."""
        with self._lock:
            rate = self.per_second
            if not rate:
                return True
            now = self._clock()
            tokens, at = self._buckets.get(endpoint, (rate, now))
            tokens = min(rate, tokens + (now - at) * rate)
            if tokens < 1:
                self._buckets[endpoint] = (tokens, now)
                self.refused[endpoint] += 1
                return False
            self._buckets[endpoint] = (tokens - 1, now)
            return True

    def describe(self) -> dict[str, object]:
        with self._lock:
            return {"per_endpoint_per_second": self.per_second, "refused": dict(self.refused)}
