"""When a request may start, and how long to wait before retrying one: pure timing rules, no I/O.

- :class:`RateLimiter` paces request starts under two limits at once: all requests of the run, and each
  endpoint on its own (Stripe's per-endpoint limit, 25/s by default).
- :func:`backoff_delay`: full-jitter exponential backoff; :func:`retry_after`: what Stripe's
  ``Retry-After`` header asks for, when it sends one.
"""

from __future__ import annotations

import bisect
import random
import threading
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any


class RateLimiter:
    """Thread-safe pacing of request starts across all threads: at most ``rate`` per second in all, and
    at most ``per_endpoint`` per second to any one endpoint (Stripe limits both: 100/s per live account,
    25/s per endpoint by default).

    Each request reserves the earliest start that keeps both gaps: ``1/rate`` from every other start and
    ``1/per_endpoint`` from the previous start to its endpoint. A request that waits for its endpoint
    holds no slot that a request to another endpoint could use meanwhile.
    """

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        *,
        per_endpoint: float | None = None,
    ) -> None:
        self._gap = 1.0 / rate if rate and rate > 0 else 0.0
        self._endpoint_gap = 1.0 / per_endpoint if per_endpoint and per_endpoint > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._starts: list[float] = []  # reserved starts (sorted), kept while they can still conflict
        self._next_by_endpoint: dict[str, float] = {}

    def acquire(self, endpoint: str = "") -> None:
        """Wait for this caller's slot (``endpoint``: the name Stripe's per-endpoint limit counts by)."""
        if self._gap <= 0 and self._endpoint_gap <= 0:
            return
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_by_endpoint.get(endpoint, now))
            if self._gap > 0:
                self._starts = [s for s in self._starts if s > now - self._gap]
                for start in self._starts:  # sorted: the first gap wide enough after ``slot``
                    if slot + self._gap <= start:
                        break
                    slot = max(slot, start + self._gap)
                bisect.insort(self._starts, slot)
            if self._endpoint_gap > 0:
                self._next_by_endpoint[endpoint] = slot + self._endpoint_gap
        wait = slot - now
        if wait > 0:
            self._sleep(wait)


MAX_RETRIES = 6  # retries of one request (429, 5xx, connection errors) before the run fails
BACKOFF_CAP_SECONDS = 30.0  # no backoff wait is longer (a Retry-After may ask for longer)


def backoff_ceiling(attempt: int, base: float, cap: float) -> float:
    """The longest wait before retry ``attempt`` (0-based): min(cap, base x 2^attempt).

    The target keeps its own copy of this rule (separate wheels); a test checks that the two agree."""
    return min(cap, base * (2**attempt))


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform up to :func:`backoff_ceiling`, at least 10% of it."""
    ceiling = backoff_ceiling(attempt, base, cap)
    return rng.uniform(ceiling * 0.1, ceiling)


def retry_after(headers: Any, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date), capped at
    ``MAX_RETRY_AFTER``; None without one."""
    if not headers:
        return None
    value = None
    for name in ("Retry-After", "retry-after"):
        value = headers.get(name)
        if value:
            break
    if not value:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        try:
            seconds = parsedate_to_datetime(str(value)).timestamp() - (time.time() if now is None else now)
        except (TypeError, ValueError):
            return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


# A Retry-After longer than this is not waited out whole: the next attempt may find the limit lifted.
MAX_RETRY_AFTER = 120.0
