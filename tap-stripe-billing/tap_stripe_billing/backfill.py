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

Every parallel read starts with the newest page of its window (one request; for a window of at most one
page, most connected accounts of a platform, that is the whole read). The rest, if any, is read by one
small strategy per mode (``read_paid_invoices`` picks it):

- **sequential** (``backfill_parallelism: 1``, or a window too short to slice): one page at a time, no
  newest page first;
- **one reader** (whole history on a fast link): the rest of the history newest first in one background
  task;
- **fixed slices** (a lower bound is known): equal time slices, as many as the pages the newest page's
  density predicts (at most ``parallelism x SLICES_PER_THREAD``);
- **searched slices** (whole history): slices handed over by the search for the oldest invoice
  (``oldest.py``) as it proves parts of the history non-empty, so reading overlaps the search; none
  shorter than the newest page's density predicts for a page.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tap_stripe_billing.checkpoint import remaining
from tap_stripe_billing.client import PAGE_SIZE, list_params
from tap_stripe_billing.oldest import STRIPE_EPOCH, Lister, oldest_created
from tap_stripe_billing.windows import time_slices

# More slices than threads (taken newest first as threads free up): an account's volume grows over time,
# so equal time slices are far from equal work (measured: the newest of 16 slices had 6 times the pages
# of the oldest, and set the wall time alone).
SLICES_PER_THREAD = 3

Prepare = Callable[[list[dict[str, Any]]], None]
Slice = tuple[int | None, int]
SliceDone = Callable[[Slice], None]


def paid_invoice_params(gte: int | None, lt: int | None) -> list[tuple[str, Any]]:
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

    Every parallel read starts with the newest page of its window (:func:`_newest_page`): for a window of
    at most one page (most connected accounts of a platform) that is the whole read, one request.

    ``newest``: that page, already fetched by :func:`newest_paid_page` for a whole-history backfill (the
    run's first request), ``newest_seconds`` its round trip and ``rate`` the client's requests/s: a
    whole-history backfill then uses only the slices the round trip needs to reach the rate (in flight =
    rate x round trip), up to ``parallelism``. When that is under two (a fast link), it reads the rest of
    the history newest first in one background task: no search for the oldest invoice, no partial page
    per slice, fewest requests.

    ``done`` (a resumed backfill, ``checkpoint.py``): only the created ranges not in it are read, in
    slices, whatever the parallelism."""
    if done:
        rest = remaining(created_gte, created_lt, done, max(1, parallelism) * SLICES_PER_THREAD)
        if rest:
            yield from _read_slices(api, prepare, max(1, parallelism), _fixed(rest), on_slice_done)
        return
    fixed_count = parallelism * SLICES_PER_THREAD
    if parallelism <= 1 or (
        created_gte is not None and len(time_slices(created_gte, created_lt, fixed_count)) <= 1
    ):
        yield from _sequential(api, created_gte, created_lt, prepare)
        return
    if newest is None:
        newest = api.get("/v1/invoices", paid_invoice_params(created_gte, created_lt))
    page = newest or {}
    rest_lt = yield from _newest_page(page, created_gte, created_lt, prepare, on_slice_done)
    if rest_lt is None:
        return
    span = _page_span(page, rest_lt, created_lt)
    if created_gte is not None:
        slices = time_slices(
            created_gte, rest_lt, min(fixed_count, math.ceil((rest_lt - created_gte) / span))
        )
        threads = min(parallelism, len(slices))
        yield from _read_slices(api, prepare, threads, _fixed(slices), on_slice_done)
        return
    if newest_seconds is not None and rate:
        wanted = rate * newest_seconds
        parallelism = 1 if wanted < 2 else min(parallelism, math.ceil(wanted))
    if parallelism <= 1:
        yield from _read_slices(api, prepare, 1, _fixed([(None, rest_lt)]), on_slice_done)
        return
    search = _searched(api, rest_lt, parallelism, span)
    yield from _read_slices(api, prepare, parallelism, search, on_slice_done)


def newest_paid_page(api: Lister) -> dict[str, Any] | None:
    """``GET /v1/invoices?status=paid`` (a page, customers expanded): the newest paid invoices, asked as a
    whole-history backfill's first request, before the run's upper bound is known."""
    return api.get("/v1/invoices", paid_invoice_params(None, None))


def _newest_page(
    body: dict[str, Any], gte: int | None, lt: int, prepare: Prepare | None, on_slice_done: SliceDone | None
) -> Generator[dict[str, Any], None, int | None]:
    """Hand over the newest page of ``[gte, lt)``; return where the rest ends (None: nothing is left).

    A list is newest first, so a page with more after it holds every invoice created after its oldest
    second ``c``: ``[c + 1, lt)`` is complete, and the invoices of second ``c`` itself are left to the rest
    ``[gte, c + 1)`` (the next page may hold more of them). A page asked before ``lt`` was known
    (:func:`newest_paid_page`) may hold invoices created at or after ``lt``: those are not handed over."""
    data: list[dict[str, Any]] = body.get("data") or []
    page = [invoice for invoice in data if int(invoice["created"]) < lt]
    if body.get("has_more"):
        oldest = min(int(invoice["created"]) for invoice in data)
        rest_lt: int | None = min(lt, oldest + 1)
        newer = [invoice for invoice in page if int(invoice["created"]) > oldest]
    else:
        rest_lt, newer = None, page
    if newer:
        if prepare is not None:
            prepare(newer)
        yield from newer
    complete = (gte, lt) if rest_lt is None else (rest_lt, lt)
    if on_slice_done is not None and (complete[0] or 0) < complete[1]:
        on_slice_done(complete)
    return rest_lt


def _page_span(newest: dict[str, Any], rest_lt: int, lt: int) -> float:
    """Seconds of ``created`` one page of the rest covers at the density of the newest page, whose
    complete part is ``[rest_lt, lt)`` (:func:`_newest_page`). An account usually grows, so older slices
    one span long hold less than a page (more slices than pages: parallel, one request each); one that
    shrank has slices of several pages, still read whole. 1 when the page tells nothing (none of it in
    its complete part)."""
    newer = sum(1 for invoice in newest.get("data") or [] if rest_lt <= int(invoice["created"]) < lt)
    return max(1.0, PAGE_SIZE * (lt - rest_lt) / newer) if newer else 1.0


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


def _searched(api: Lister, created_lt: int, parallelism: int, page_span: float) -> Producer:
    """The search for the oldest invoice hands over each part of the history it has proven non-empty
    (``[high, previous high)``) as slices at once; the last part, ``[oldest, high)``, follows at its end.
    Slices are about 1/(threads x SLICES_PER_THREAD) of the longest the whole history can still be
    (``[low, created_lt)``), and at least ``page_span`` (:func:`_page_span`) long."""

    def produce(submit: Callable[[Slice], None]) -> None:
        covered = created_lt  # everything from ``covered`` to created_lt is already handed over

        def cover(down_to: int, low: int) -> None:
            nonlocal covered
            start, end = max(STRIPE_EPOCH, down_to), min(covered, created_lt)
            if start >= end:
                return
            step = max(1, (created_lt - low) // (parallelism * SLICES_PER_THREAD), int(page_span))
            for slice_ in time_slices(start, end, -(-(end - start) // step)):
                submit(slice_)
            covered = start

        low = oldest_created(api, created_lt, parallelism=parallelism, on_round=cover)
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
