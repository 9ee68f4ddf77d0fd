"""Parallel backfill: the paid-invoice listing split into ``created`` time slices read concurrently.

Each slice is paginated newest first by its own thread; all threads share the client (and so its rate
limiter and counters). Pages are handed to the caller through a bounded queue, so memory stays flat and
the caller (the stream, on the main thread) does the per-invoice work. An optional ``prepare`` callback
runs on each page in the slice's thread before it is queued: the stream uses it to fetch the lines of
invoices that do not embed them all, so those single requests also run in parallel instead of one by
one on the main thread. State is only written at the
end of the run, so the order in which slices deliver does not matter. A failure in any slice stops the
others and is raised to the caller.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from tap_stripe_billing.windows import time_slices

STRIPE_EPOCH = 1_293_840_000  # 2011-01-01: no Stripe object is older
DAY = 86_400
# Slices in flight: enough for Stripe's live rate (100 requests/s) at ~160 ms per list page, and for the
# default 20/s at up to 800 ms (in flight = rate x latency).
DEFAULT_BACKFILL_PARALLELISM = 16


class Lister(Protocol):
    """What the backfill needs from the Stripe client."""

    def list_pages(self, path: str, params: Any = ()) -> Iterator[list[dict[str, Any]]]: ...

    def get(self, path: str, params: Any = (), *, missing_ok: bool = False) -> dict[str, Any] | None: ...


def _base_params(gte: int | None, lt: int) -> list[tuple[str, Any]]:
    params: list[tuple[str, Any]] = [("status", "paid")]
    if gte is not None:
        params.append(("created[gte]", gte))
    params.extend([("created[lt]", lt), ("limit", 100), ("expand[]", "data.customer")])
    return params


def newest_paid_invoice(api: Lister) -> dict[str, Any] | None:
    """``GET /v1/invoices?status=paid&limit=1``: the newest paid invoice (a page of at most one)."""
    return api.get("/v1/invoices", [("status", "paid"), ("limit", 1)])


def oldest_created(
    api: Lister,
    lt: int,
    max_rounds: int = 12,
    newest: dict[str, Any] | None = None,
    parallelism: int = 1,
    *,
    newest_seconds: float | None = None,
    on_round: Callable[[int, int], None] | None = None,
) -> int | None:
    """A lower bound close to the ``created`` of the oldest paid invoice before ``lt``, found by bisection
    with ``limit=1`` probes (None when there is none). Used only for a whole-history backfill, to cut the
    history into slices; it stops once the uncertainty is under 1/32 of the span to read (or a day);
    slices before the oldest invoice only cost one empty page each.

    ``newest``: the answer of :func:`newest_paid_invoice`, already fetched (it gives the first upper
    bound). A round is one probe while rounds are quick (fewest requests); once a round takes longer
    than ``SLOW_ROUND_SECONDS`` (a high-latency link), up to ``PROBES_PER_SLOW_ROUND`` probes (at most
    ``parallelism - 1``) run concurrently per round, cutting the interval into equal parts: a few more
    requests for a third of the round trips. ``on_round(high, low)`` is told after each round that there
    are paid invoices before ``high`` (so ``[high, lt)`` is part of the history to read) and none before
    ``low``.
    """
    started = time.monotonic()
    first = newest
    if first is None:
        first = api.get("/v1/invoices", [("status", "paid"), ("created[lt]", lt), ("limit", 1)])
    if not first or not first.get("data"):
        return None
    low, high = STRIPE_EPOCH, int(first["data"][0]["created"]) + 1  # none before low; some before high
    rounds = 1
    per_round = 1
    first_seconds = time.monotonic() - started if newest is None else newest_seconds
    slow = first_seconds is not None and first_seconds > SLOW_ROUND_SECONDS
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


SLOW_ROUND_SECONDS = 0.05
PROBES_PER_SLOW_ROUND = 7


def _any_paid_before(api: Lister, point: int) -> bool:
    body = api.get("/v1/invoices", [("status", "paid"), ("created[lt]", point), ("limit", 1)])
    return bool(body and body.get("data"))


Prepare = Callable[[list[dict[str, Any]]], None]


def read_paid_invoices(
    api: Lister,
    created_gte: int | None,
    created_lt: int,
    parallelism: int,
    prepare: Prepare | None = None,
    *,
    newest: dict[str, Any] | None = None,
    newest_seconds: float | None = None,
    rate: float | None = None,
) -> Iterator[dict[str, Any]]:
    """Every paid invoice with ``created_gte ≤ created < created_lt``, read in parallel slices.

    ``newest``: :func:`newest_paid_invoice`, already fetched (a whole-history backfill starts there),
    ``newest_seconds`` its round trip and ``rate`` the client's requests/s: a whole-history backfill
    then uses only the slices the round trip needs to reach the rate (in flight = rate x round trip,
    x 1.5 for pages being slower than a one-invoice probe), up to ``parallelism``. When that is under
    two (a fast link), it reads the whole history newest first in one background thread: no search for
    the oldest invoice, no partial page per slice, fewest requests."""
    if parallelism <= 1:
        for page in api.list_pages("/v1/invoices", _base_params(created_gte, created_lt)):
            if prepare is not None:
                prepare(page)
            yield from page
        return
    gte = created_gte
    if gte is None and newest is not None and newest_seconds is not None and rate:
        wanted = 1.5 * rate * newest_seconds
        parallelism = 1 if wanted < 2 else min(parallelism, math.ceil(wanted))
        if parallelism <= 1:
            if newest.get("data"):
                yield from _parallel(api, [(None, created_lt)], prepare)
            return
    if gte is None:
        if newest is None:
            newest = api.get("/v1/invoices", [("status", "paid"), ("created[lt]", created_lt), ("limit", 1)])
            newest_seconds = None
        if not newest or not newest.get("data"):
            return
        yield from _whole_history(
            api, created_lt, parallelism, prepare, newest=newest, newest_seconds=newest_seconds
        )
        return
    # More slices than threads (SLICES_PER_THREAD each, taken newest first as threads free up): an
    # account's volume grows over time, so equal time slices are far from equal work (measured: the
    # newest of 16 slices had 6 times the pages of the oldest, and set the wall time alone).
    slices = time_slices(gte, created_lt, parallelism * SLICES_PER_THREAD)
    if len(slices) <= 1:
        yield from read_paid_invoices(api, gte, created_lt, 1, prepare)
        return
    yield from _parallel(api, slices, prepare, threads=parallelism)


SLICES_PER_THREAD = 3


_DONE = object()


def _whole_history(
    api: Lister,
    created_lt: int,
    parallelism: int,
    prepare: Prepare | None,
    *,
    newest: dict[str, Any],
    newest_seconds: float | None,
) -> Iterator[dict[str, Any]]:
    """A whole-history backfill: the search for the oldest invoice runs in its own thread and hands
    over each part of the history it has proven non-empty (``[high, previous high)``) as slices at
    once, so reading overlaps the search; the last part, ``[oldest, high)``, follows at its end."""
    todo: queue.SimpleQueue[tuple[int | None, int]] = queue.SimpleQueue()
    covered = [created_lt]  # everything from covered[0] to created_lt is already queued

    def cover(down_to: int, low: int) -> None:
        """Queue ``[down_to, covered)`` in slices of about 1/(threads x SLICES_PER_THREAD) of the
        longest the whole history can still be (``[low, created_lt)``)."""
        start, end = max(STRIPE_EPOCH, down_to), min(covered[0], created_lt)
        if start >= end:
            return
        step = max(1, (created_lt - low) // (parallelism * SLICES_PER_THREAD))
        for slice_ in time_slices(start, end, -(-(end - start) // step)):
            todo.put(slice_)
        covered[0] = start

    def search() -> None:
        low = oldest_created(
            api,
            created_lt,
            newest=newest,
            parallelism=parallelism,
            newest_seconds=newest_seconds,
            on_round=cover,
        )
        if low is not None:
            cover(low, low)

    yield from _parallel(api, [], prepare, threads=parallelism, todo=todo, producer=search)


def _parallel(
    api: Lister,
    slices: Sequence[tuple[int | None, int]],
    prepare: Prepare | None,
    threads: int | None = None,
    *,
    todo: queue.SimpleQueue[tuple[int | None, int]] | None = None,
    producer: Callable[[], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Read the slices with ``threads`` threads (default: one per slice), each taking the next slice
    when it finishes one; pages go to the caller through a bounded queue. ``producer``, if given, runs
    in its own thread and may add slices to ``todo`` until it returns."""
    count = max(1, threads or len(slices))
    if producer is None:
        count = min(count, max(1, len(slices)))
    todo = todo if todo is not None else queue.SimpleQueue()
    for slice_ in slices:
        todo.put(slice_)
    pages: queue.Queue[Any] = queue.Queue(maxsize=count * 2)
    stop = threading.Event()
    produced = threading.Event()
    if producer is None:
        produced.set()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                pages.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            while not stop.is_set():
                try:
                    gte, lt = todo.get(timeout=0.05) if not produced.is_set() else todo.get_nowait()
                except queue.Empty:
                    if produced.is_set() and todo.empty():
                        break
                    continue
                for page in api.list_pages("/v1/invoices", _base_params(gte, lt)):
                    if prepare is not None:
                        prepare(page)
                    if not put(page):
                        return
            put(_DONE)
        except BaseException as exc:
            put(exc)

    def produce() -> None:
        assert producer is not None
        try:
            producer()
        except BaseException as exc:
            put(exc)
        finally:
            produced.set()

    workers = [threading.Thread(target=work, name=f"backfill-{i}", daemon=True) for i in range(count)]
    if producer is not None:
        workers.append(threading.Thread(target=produce, name="backfill-search", daemon=True))
    for thread in workers:
        thread.start()
    remaining = count
    try:
        while remaining:
            item = pages.get()
            if item is _DONE:
                remaining -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield from item
    finally:
        stop.set()
        for thread in workers:
            thread.join(timeout=30)
