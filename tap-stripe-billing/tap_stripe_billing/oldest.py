"""The search for the oldest paid invoice: where a whole-history backfill's time slices start.

A whole-history backfill (no ``start_date``, no bookmark) does not know where the account's history
begins. :func:`oldest_created` finds a lower bound close to it by bisection with one-invoice probes, and
reports each part of the history it has proven non-empty as it goes, so that reading can start before
the search ends (``backfill.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from tap_stripe_billing.client import list_params
from tap_stripe_billing.windows import DAY

STRIPE_EPOCH = 1_293_840_000  # 2011-01-01: no Stripe object is older
SLOW_ROUND_SECONDS = 0.05
PROBES_PER_SLOW_ROUND = 7


class Lister(Protocol):
    """What the backfill needs from the Stripe client."""

    def list_pages(self, path: str, params: Any = ()) -> Iterator[list[dict[str, Any]]]: ...

    def get(self, path: str, params: Any = (), *, missing_ok: bool = False) -> dict[str, Any] | None: ...


def oldest_created(
    api: Lister,
    lt: int,
    max_rounds: int = 12,
    parallelism: int = 1,
    *,
    on_round: Callable[[int, int], None] | None = None,
) -> int | None:
    """A lower bound close to the ``created`` of the oldest paid invoice before ``lt``, found by bisection
    with ``limit=1`` probes (None when there is none). Used only for a whole-history backfill, to cut the
    history into slices; it stops once the uncertainty is under 1/32 of the span to read (or a day);
    slices before the oldest invoice only cost one empty page each.

    The first probe (the newest paid invoice before ``lt``) gives the first upper bound. A round is one
    probe while rounds are quick (fewest requests); once a round takes longer than ``SLOW_ROUND_SECONDS``
    (a high-latency link), up to ``PROBES_PER_SLOW_ROUND`` probes (at most ``parallelism - 1``) run
    concurrently per round, cutting the interval into equal parts: a few more requests for a third of the
    round trips. ``on_round(high, low)`` is told after each round that there are paid invoices before
    ``high`` (so ``[high, lt)`` is part of the history to read) and none before ``low``.
    """
    started = time.monotonic()
    first = api.get("/v1/invoices", [("status", "paid"), *list_params(None, lt, limit=1)])
    if not first or not first.get("data"):
        return None
    low, high = STRIPE_EPOCH, int(first["data"][0]["created"]) + 1  # none before low; some before high
    rounds = 1
    per_round = 1
    slow = time.monotonic() - started > SLOW_ROUND_SECONDS
    pool: ThreadPoolExecutor | None = None
    try:
        while high - low > max(DAY, (lt - low) // 32) and rounds < max_rounds:
            if slow and per_round == 1 and parallelism > 2:
                per_round = min(PROBES_PER_SLOW_ROUND, parallelism - 1)
                pool = ThreadPoolExecutor(per_round, thread_name_prefix="backfill-probe")
            points = sorted({low + (high - low) * i // (per_round + 1) for i in range(1, per_round + 1)})
            points = [p for p in points if low < p < high] or [(low + high) // 2]
            round_started = time.monotonic()
            if pool is not None and len(points) > 1:
                found = list(pool.map(lambda p: _any_paid_before(api, p), points))
            else:
                found = [_any_paid_before(api, p) for p in points]
            slow = slow or time.monotonic() - round_started > SLOW_ROUND_SECONDS
            rounds += 1
            for point, some in zip(points, found, strict=True):
                if some:
                    high = point
                    break
                low = point
            if on_round is not None:
                on_round(high, low)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return low


def _any_paid_before(api: Lister, point: int) -> bool:
    body = api.get("/v1/invoices", [("status", "paid"), *list_params(None, point, limit=1)])
    return bool(body and body.get("data"))
