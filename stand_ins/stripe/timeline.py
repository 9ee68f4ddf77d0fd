"""Calendar arithmetic for billing periods: Stripe bills months on the anchor's day, clamped to month end."""

from __future__ import annotations

from calendar import monthrange, timegm
from collections.abc import Callable
from datetime import datetime, timezone

from .config import DAY


def period_adder(anchor: int, interval: str, count: int) -> Callable[[int], int]:
    """A function k -> start of the k-th period after ``anchor`` (k = 0 is the anchor)."""
    if interval in ("week", "day"):
        step = count * (7 if interval == "week" else 1) * DAY
        return lambda k: anchor + k * step
    months_per = count * (12 if interval == "year" else 1)
    dt = datetime.fromtimestamp(anchor, tz=timezone.utc)
    year, month, day = dt.year, dt.month, dt.day
    second_of_day = anchor - timegm((year, month, day, 0, 0, 0))

    def at(k: int) -> int:
        total = month - 1 + k * months_per
        y, m = year + total // 12, total % 12 + 1
        d = min(day, monthrange(y, m)[1])
        return timegm((y, m, d, 0, 0, 0)) + second_of_day

    return at
