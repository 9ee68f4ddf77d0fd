"""Parallel backfill: the paid-invoice listing split into ``created`` time slices read concurrently.

Each slice is paginated newest first by a task of a ``ThreadPoolExecutor``; all tasks share the client
(and so its rate limits and counters). Pages reach the caller through a bounded feed, so memory stays
flat and the caller (the stream, on the main thread) does the per-invoice work. An optional ``prepare``
callback runs on each page in the slice's thread before it is queued: the stream uses it to fetch the
lines of invoices that do not embed them all, so those single requests also run in parallel instead of
one by one on the main thread. The order in which slices deliver does not matter: the bookmark is only
written at the end of the run, and ``on_slice_done`` is told of each slice once all its invoices were
handed to the caller (``checkpoint.py`` records it, so a killed first backfill resumes with the slices
it had not finished: ``done``). A failure in any slice stops the others and is raised to the caller.

One small strategy per mode (``read_paid_invoices`` picks it):

- **sequential** (``backfill_parallelism: 1``, or a window too short to slice): one page at a time;
- **one reader** (whole history on a fast link): the whole history newest first in one background task;
- **fixed slices** (a lower bound is known): ``parallelism x SLICES_PER_THREAD`` equal time slices;
- **searched slices** (whole history): slices handed over by the search for the oldest invoice
  (``oldest.py``) as it proves parts of the history non-empty, so reading overlaps the search.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tap_stripe_billing.checkpoint import remaining
from tap_stripe_billing.client import list_params
from tap_stripe_billing.oldest import STRIPE_EPOCH, Lister, oldest_created
from tap_stripe_billing.windows import time_slices

# More slices than threads (taken newest first as threads free up): an account's volume grows over time,
# so equal time slices are far from equal work (measured: the newest of 16 slices had 6 times the pages
# of the oldest, and set the wall time alone).
SLICES_PER_THREAD = 3

Prepare = Callable[[list[dict[str, Any]]], None]
Slice = tuple[int | None, int]
SliceDone = Callable[[Slice], None]


def paid_invoice_params(gte: int | None, lt: int) -> list[tuple[str, Any]]:
    """``GET /v1/invoices`` parameters of a slice: paid, ``gte ≤ created < lt``, customers expanded."""
    return [("status", "paid"), *list_params(gte, lt), ("expand[]", "data.customer")]


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
    on_slice_done: SliceDone | None = None,
    done: list[tuple[int, int]] | None = None,
) -> Iterator[dict[str, Any]]:
    """Every paid invoice with ``created_gte ≤ created < created_lt``, read in parallel slices.

    ``newest``: :func:`oldest.newest_paid_invoice`, already fetched (a whole-history backfill starts
    there), ``newest_seconds`` its round trip and ``rate`` the client's requests/s: a whole-history
    backfill then uses only the slices the round trip needs to reach the rate (in flight = rate x round
    trip, x 1.5 for pages being slower than a one-invoice probe), up to ``parallelism``. When that is
    under two (a fast link), it reads the whole history newest first in one background task: no search
    for the oldest invoice, no partial page per slice, fewest requests.

    ``done`` (a resumed backfill, ``checkpoint.py``): only the created ranges not in it are read, in
    slices, whatever the parallelism."""
    if done:
        rest = remaining(created_gte, created_lt, done, max(1, parallelism) * SLICES_PER_THREAD)
        if rest:
            yield from _read_slices(api, prepare, max(1, parallelism), _fixed(rest), on_slice_done)
        return
    if parallelism <= 1:
        yield from _sequential(api, created_gte, created_lt, prepare)
        return
    if created_gte is None and newest is not None and newest_seconds is not None and rate:
        wanted = 1.5 * rate * newest_seconds
        parallelism = 1 if wanted < 2 else min(parallelism, math.ceil(wanted))
        if parallelism <= 1:
            if newest.get("data"):
                yield from _read_slices(api, prepare, 1, _fixed([(None, created_lt)]), on_slice_done)
            return
    if created_gte is None:
        if newest is None:
            params = [("status", "paid"), *list_params(None, created_lt, limit=1)]
            newest, newest_seconds = api.get("/v1/invoices", params), None
        if not newest or not newest.get("data"):
            return
        search = _searched(api, created_lt, parallelism, newest, newest_seconds)
        yield from _read_slices(api, prepare, parallelism, search, on_slice_done)
        return
    slices = time_slices(created_gte, created_lt, parallelism * SLICES_PER_THREAD)
    if len(slices) <= 1:
        yield from _sequential(api, created_gte, created_lt, prepare)
        return
    yield from _read_slices(api, prepare, parallelism, _fixed(slices), on_slice_done)


# -- strategies -----------------------------------------------------------------------------------------
def _sequential(api: Lister, gte: int | None, lt: int, prepare: Prepare | None) -> Iterator[dict[str, Any]]:
    for page in api.list_pages("/v1/invoices", paid_invoice_params(gte, lt)):
        if prepare is not None:
            prepare(page)
        yield from page


# A producer hands slices to ``submit`` (in any thread), newest first, and returns when it has no more.
Producer = Callable[[Callable[[Slice], None]], None]


def _fixed(slices: Sequence[Slice]) -> Producer:
    def produce(submit: Callable[[Slice], None]) -> None:
        for slice_ in slices:
            submit(slice_)

    return produce


def _searched(
    api: Lister, created_lt: int, parallelism: int, newest: dict[str, Any], newest_seconds: float | None
) -> Producer:
    """The search for the oldest invoice hands over each part of the history it has proven non-empty
    (``[high, previous high)``) as slices at once; the last part, ``[oldest, high)``, follows at its end.
    Slices are about 1/(threads x SLICES_PER_THREAD) of the longest the whole history can still be
    (``[low, created_lt)``)."""

    def produce(submit: Callable[[Slice], None]) -> None:
        covered = created_lt  # everything from ``covered`` to created_lt is already handed over

        def cover(down_to: int, low: int) -> None:
            nonlocal covered
            start, end = max(STRIPE_EPOCH, down_to), min(covered, created_lt)
            if start >= end:
                return
            step = max(1, (created_lt - low) // (parallelism * SLICES_PER_THREAD))
            for slice_ in time_slices(start, end, -(-(end - start) // step)):
                submit(slice_)
            covered = start

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

    return produce


# -- the engine: slices read by a thread pool, pages through a bounded feed ------------------------------
@dataclass(frozen=True)
class _SliceDone:
    """A slice task finished (``error``: what it raised)."""

    slice_: Slice
    error: BaseException | None = None


@dataclass(frozen=True)
class _Produced:
    """The producer finished after handing over ``count`` slices (``error``: what it raised)."""

    count: int
    error: BaseException | None = None


class _Stopped(Exception):
    """The caller stopped reading: the producer ends early."""


class _Feed:
    """Pages from the slice tasks to the caller: at most ``capacity`` pages waiting (a task with a page
    to hand over waits for room), notices never wait. ``close`` wakes every waiting task."""

    def __init__(self, capacity: int, waiters: int) -> None:
        self._items: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._room = threading.Semaphore(capacity)
        self._waiters = waiters
        self.closed = threading.Event()

    def put_page(self, page: list[dict[str, Any]]) -> bool:
        """Hand a page over (waiting for room); False once the caller stopped reading."""
        self._room.acquire()
        if self.closed.is_set():
            return False
        self._items.put(page)
        return True

    def notify(self, notice: _SliceDone | _Produced) -> None:
        self._items.put(notice)

    def get(self) -> Any:
        item = self._items.get()
        if isinstance(item, list):
            self._room.release()
        return item

    def close(self) -> None:
        self.closed.set()
        self._room.release(self._waiters)


def _read_slices(
    api: Lister,
    prepare: Prepare | None,
    threads: int,
    produce: Producer,
    on_slice_done: SliceDone | None = None,
) -> Iterator[dict[str, Any]]:
    """Read the slices ``produce`` hands over with ``threads`` tasks at a time, in the order handed over;
    the producer runs in its own thread, so slices are read while it still works."""
    feed = _Feed(capacity=threads * 2, waiters=threads)

    def read_slice(slice_: Slice) -> None:
        try:
            for page in api.list_pages("/v1/invoices", paid_invoice_params(*slice_)):
                if feed.closed.is_set():
                    return
                if prepare is not None:
                    prepare(page)
                if not feed.put_page(page):
                    return
        except BaseException as exc:
            feed.notify(_SliceDone(slice_, exc))
            return
        feed.notify(_SliceDone(slice_))

    readers = ThreadPoolExecutor(threads, thread_name_prefix="backfill")
    producer = ThreadPoolExecutor(1, thread_name_prefix="backfill-search")

    def run_producer() -> None:
        count = 0

        def submit(slice_: Slice) -> None:
            nonlocal count
            if feed.closed.is_set():
                raise _Stopped
            readers.submit(read_slice, slice_)
            count += 1

        try:
            produce(submit)
        except _Stopped:
            return
        except BaseException as exc:
            feed.notify(_Produced(count, exc))
            return
        feed.notify(_Produced(count))

    started: Future[None] = producer.submit(run_producer)
    try:
        expected: int | None = None
        done = 0
        while expected is None or done < expected:
            item = feed.get()
            if isinstance(item, list):
                yield from item
            elif isinstance(item, _SliceDone):
                if item.error is not None:
                    raise item.error
                done += 1
                if on_slice_done is not None:  # every invoice of the slice was handed over before
                    on_slice_done(item.slice_)
            else:
                if item.error is not None:
                    raise item.error
                expected = item.count
    finally:
        feed.close()
        started.cancel()
        producer.shutdown(wait=True)
        readers.shutdown(wait=True, cancel_futures=True)
