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

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from tap_stripe_billing.windows import time_slices

STRIPE_EPOCH = 1_293_840_000  # 2011-01-01: no Stripe object is older
DAY = 86_400


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


def oldest_created(api: Lister, lt: int, max_probes: int = 12) -> int | None:
    """A lower bound close to the ``created`` of the oldest paid invoice before ``lt``, found by bisection
    with ``limit=1`` probes (None when there is none). Used only for a whole-history backfill, to cut the
    history into slices; it stops once the uncertainty is under 1/32 of the span to read (or a day)."""
    first = api.get("/v1/invoices", [("status", "paid"), ("created[lt]", lt), ("limit", 1)])
    if not first or not first.get("data"):
        return None
    low, high = STRIPE_EPOCH, int(first["data"][0]["created"]) + 1  # none before low; some before high
    probes = 1
    while high - low > max(DAY, (lt - low) // 32) and probes < max_probes:
        mid = (low + high) // 2
        body = api.get("/v1/invoices", [("status", "paid"), ("created[lt]", mid), ("limit", 1)])
        probes += 1
        if body and body.get("data"):
            high = mid
        else:
            low = mid
    return low


Prepare = Callable[[list[dict[str, Any]]], None]


def read_paid_invoices(
    api: Lister,
    created_gte: int | None,
    created_lt: int,
    parallelism: int,
    prepare: Prepare | None = None,
) -> Iterator[dict[str, Any]]:
    """Every paid invoice with ``created_gte ≤ created < created_lt``, read in parallel slices."""
    if parallelism <= 1:
        for page in api.list_pages("/v1/invoices", _base_params(created_gte, created_lt)):
            if prepare is not None:
                prepare(page)
            yield from page
        return
    gte = created_gte
    if gte is None:
        gte = oldest_created(api, created_lt)
        if gte is None:
            return
    slices = time_slices(gte, created_lt, parallelism)
    if len(slices) <= 1:
        yield from read_paid_invoices(api, gte, created_lt, 1, prepare)
        return
    yield from _parallel(api, slices, prepare)


_DONE = object()


def _parallel(
    api: Lister, slices: list[tuple[int, int]], prepare: Prepare | None
) -> Iterator[dict[str, Any]]:
    pages: queue.Queue[Any] = queue.Queue(maxsize=len(slices) * 2)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                pages.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def work(gte: int, lt: int) -> None:
        try:
            for page in api.list_pages("/v1/invoices", _base_params(gte, lt)):
                if prepare is not None:
                    prepare(page)
                if not put(page):
                    return
            put(_DONE)
        except BaseException as exc:
            put(exc)

    threads = [
        threading.Thread(target=work, args=slice_, name=f"backfill-{i}", daemon=True)
        for i, slice_ in enumerate(slices)
    ]
    for thread in threads:
        thread.start()
    remaining = len(threads)
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
        for thread in threads:
            thread.join(timeout=30)
