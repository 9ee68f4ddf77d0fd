"""The backfill strategies against an in-memory invoice list (no HTTP): each reads every paid invoice of
its window exactly once, a failing slice stops the run, and stopping early leaves no thread behind."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from tap_stripe_billing.backfill import newest_paid_page, read_paid_invoices

DAY = 86_400
NOW = 1_790_000_000


class Listing:
    """Paid invoices by ``created``; honours status, created[gte]/[lt] and limit, newest first, pages of
    100 (a Lister for the backfill)."""

    def __init__(self, created: list[int], *, fail_before: int | None = None, delay: float = 0.0) -> None:
        self.invoices = [{"id": f"in_{i}", "created": c, "status": "paid"} for i, c in enumerate(created)]
        self.fail_before = fail_before
        self.delay = delay
        self.requests: Counter[str] = Counter()
        self.lock = threading.Lock()

    def _select(self, params: Any) -> tuple[list[dict[str, Any]], int]:
        q = dict(params)
        gte, lt = int(q.get("created[gte]", -(10**12))), int(q.get("created[lt]", 10**12))
        found = sorted(
            (i for i in self.invoices if gte <= i["created"] < lt), key=lambda i: (-i["created"], i["id"])
        )
        return found, int(q.get("limit", 10))

    def get(self, path: str, params: Any = (), *, missing_ok: bool = False) -> dict[str, Any] | None:
        with self.lock:
            self.requests["get"] += 1
        found, limit = self._select(params)
        return {"data": found[:limit], "has_more": len(found) > limit}

    def list_pages(self, path: str, params: Any = ()) -> Iterator[list[dict[str, Any]]]:
        found, limit = self._select(params)
        q = dict(params)
        for start in range(0, len(found), limit):
            with self.lock:
                self.requests["page"] += 1
            time.sleep(self.delay)
            if self.fail_before is not None and int(q.get("created[lt]", 0)) <= self.fail_before:
                raise RuntimeError("slice failed")
            yield [dict(i) for i in found[start : start + limit]]


def history(count: int = 2_000, days: int = 400) -> list[int]:
    return [NOW - days * DAY + (days * DAY * k) // count for k in range(count)]


def ids(invoices: Iterator[dict[str, Any]]) -> list[str]:
    got = [i["id"] for i in invoices]
    assert len(got) == len(set(got)), "an invoice was read twice"
    return sorted(got)


@pytest.mark.parametrize("parallelism", [1, 4, 16])
def test_fixed_window_reads_each_invoice_once(parallelism: int) -> None:
    listing = Listing(history())
    gte = NOW - 200 * DAY
    expected = sorted(i["id"] for i in listing.invoices if gte <= i["created"] < NOW)
    prepared: list[int] = []
    got = ids(read_paid_invoices(listing, gte, NOW, parallelism, lambda page: prepared.append(len(page))))
    assert got == expected
    assert sum(prepared) == len(expected), "prepare saw every page once"


def test_a_window_of_one_page_is_one_request() -> None:
    """Most connected accounts of a platform: the probe is the whole read, whatever the parallelism."""
    listing = Listing(history(80, days=30))
    slices: list[tuple[int | None, int]] = []
    got = ids(read_paid_invoices(listing, NOW - 40 * DAY, NOW, 16, on_slice_done=slices.append))
    assert got == sorted(i["id"] for i in listing.invoices)
    assert listing.requests == Counter({"get": 1})
    assert slices == [(NOW - 40 * DAY, NOW)], "the whole window is one completed slice"


@pytest.mark.parametrize(("count", "most"), [(250, 4), (2_000, 1 + 16 * 3 + 16)])
def test_the_rest_is_cut_in_as_many_slices_as_the_probe_predicts_pages(count: int, most: int) -> None:
    """250 invoices: the newest page, then about 2 pages' worth of slices (not 48 near-empty ones). A big
    account still gets every slice. Ranges reported done cover the window once, without overlap."""
    listing = Listing(history(count, days=30))
    slices: list[tuple[int | None, int]] = []
    gte = NOW - 40 * DAY
    got = ids(read_paid_invoices(listing, gte, NOW, 16, on_slice_done=slices.append))
    assert got == sorted(i["id"] for i in listing.invoices)
    assert listing.requests["get"] == 1
    assert listing.requests["get"] + listing.requests["page"] <= most
    ranges = sorted((a or 0, b) for a, b in slices)
    assert ranges[0][0] == gte and ranges[-1][1] == NOW
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges)), "contiguous, no overlap"


def test_invoices_of_the_probes_oldest_second_are_read_once() -> None:
    """150 invoices in one second straddle the probe's page: the rest re-reads that second whole."""
    listing = Listing([NOW - DAY] * 150 + history(300, days=30))
    got = ids(read_paid_invoices(listing, NOW - 40 * DAY, NOW, 4))
    assert got == sorted(i["id"] for i in listing.invoices)


@pytest.mark.parametrize(("seconds", "rate"), [(0.001, 20.0), (1.0, 50.0)])
def test_whole_history_one_reader_or_searched_slices(seconds: float, rate: float) -> None:
    """A fast link reads the whole history in one task (fewest requests); a slow one searches for the
    oldest invoice and reads slices as the search hands them over. Both read everything once."""
    listing = Listing(history())
    newest = newest_paid_page(listing)
    got = ids(read_paid_invoices(listing, None, NOW, 16, newest=newest, newest_seconds=seconds, rate=rate))
    assert got == sorted(i["id"] for i in listing.invoices)
    if seconds < 0.01:
        # no search: the newest page, then the rest (its oldest second again: 1,901 invoices) in full pages
        assert listing.requests["get"] == 1 and listing.requests["page"] == 20
    else:
        assert listing.requests["get"] > 1  # the search probed


@pytest.mark.parametrize("given", [True, False])
def test_a_whole_history_of_one_page_is_one_request(given: bool) -> None:
    listing = Listing(history(60))
    newest = newest_paid_page(listing) if given else None
    slices: list[tuple[int | None, int]] = []
    read = read_paid_invoices(listing, None, NOW, 16, newest=newest, on_slice_done=slices.append)
    assert ids(read) == sorted(i["id"] for i in listing.invoices)
    assert listing.requests == Counter({"get": 1})
    assert slices == [(None, NOW)]


def test_invoices_created_after_the_window_on_the_newest_page_are_not_read() -> None:
    """The run's first page is asked before its upper bound is known: newer invoices on it are dropped."""
    listing = Listing(history(250))
    newest = newest_paid_page(listing)
    upper = NOW - 10 * DAY
    got = ids(read_paid_invoices(listing, None, upper, 4, newest=newest))
    assert got == sorted(i["id"] for i in listing.invoices if i["created"] < upper)


def test_whole_history_without_newest_and_empty_account() -> None:
    listing = Listing(history(300))
    assert ids(read_paid_invoices(listing, None, NOW, 8)) == sorted(i["id"] for i in listing.invoices)
    assert list(read_paid_invoices(Listing([]), None, NOW, 8)) == []


def test_a_failing_slice_is_raised_and_no_thread_is_left() -> None:
    before = threading.active_count()
    listing = Listing(history(), fail_before=NOW - 300 * DAY, delay=0.001)
    with pytest.raises(RuntimeError, match="slice failed"):
        list(read_paid_invoices(listing, NOW - 399 * DAY, NOW, 4))
    assert threading.active_count() == before


def test_stopping_early_stops_the_readers() -> None:
    before = threading.active_count()
    listing = Listing(history(20_000), delay=0.002)
    reader = read_paid_invoices(listing, NOW - 399 * DAY, NOW, 4)
    first = [next(reader) for _ in range(150)]
    reader.close()
    assert len(first) == 150
    assert threading.active_count() == before
    assert listing.requests["page"] < 50, "the readers stopped instead of reading the 200 pages"
