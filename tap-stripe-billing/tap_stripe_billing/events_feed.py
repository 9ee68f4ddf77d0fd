"""The run's one ``GET /v1/events`` read, shared by every stream of one Stripe account.

Each stream in events mode needs a few event types from its own lower bound (its bookmark less the
overlap) up to U. Instead of one events read per stream, the first stream that needs events (or the
run's first request, which also gives Stripe's clock) opens one read for the account with every event
type the selected streams need (``types[]`` takes up to 20) plus the price, product and plan changes the
remembered prices are checked against (``price_memory.py``), from the earliest lower bound of the
streams whose state is in events mode. Each stream then takes its types and its own window from it.

The read is asked without ``created[lt]`` (U is known only from its ``Date`` header); a stream drops
what is at or after its U, as it did when it read alone. A stream whose range the read does not cover
(a backfill reading 30 days of ``customer.subscription.updated``, a stale bookmark) reads alone.

Feeds are kept per run in ``Run.feeds``, keyed by account (``None``: the key's own account), so a run
over several accounts opens one read for each.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from tap_stripe_billing.client import list_params
from tap_stripe_billing.windows import DAY

if TYPE_CHECKING:
    from tap_stripe_billing.client import StripeAPI

# What can change a remembered price: its own update (or a legacy Plan's), or its product's (the plan
# level may come from the product's name). Deleted ones are dropped as well.
PRICE_CHANGE_TYPES = (
    "price.updated",
    "price.deleted",
    "plan.updated",
    "plan.deleted",
    "product.updated",
    "product.deleted",
)
MAX_TYPES = 20  # Stripe's limit on ``types[]``


class EventsFeed:
    """One ``GET /v1/events`` read with ``types`` from ``gte`` (no upper bound), newest first.

    The first page is read when the feed is made (it is the run's first request when the clock is not
    read yet); the other pages on first use, all at once, so that price changes anywhere in the window
    are known before any price is looked up.
    """

    def __init__(self, api: StripeAPI, types: Iterable[str], gte: int) -> None:
        self.types = frozenset(types)
        if len(self.types) > MAX_TYPES:
            raise ValueError(f"at most {MAX_TYPES} event types in one read")
        self.gte = gte
        params = [("types[]", t) for t in sorted(self.types)] + list_params(gte, None)
        self._pages = api.list_pages("/v1/events", params)
        self._events: list[dict[str, Any]] = list(next(self._pages, []))
        self._complete = False

    def _read_all(self) -> list[dict[str, Any]]:
        if not self._complete:
            for page in self._pages:
                self._events.extend(page)
            self._complete = True
        return self._events

    def covers(self, types: Iterable[str], gte: int | None) -> bool:
        """Whether this read holds every event of ``types`` created at or after ``gte``."""
        return gte is not None and gte >= self.gte and set(types) <= self.types

    def events(self, types: Sequence[str], gte: int, lt: int | None) -> Iterator[dict[str, Any]]:
        """The events of ``types`` with ``gte ≤ created < lt``, newest first."""
        wanted = set(types)
        for event in self._read_all():
            created = int(event.get("created") or 0)
            if event.get("type") in wanted and created >= gte and (lt is None or created < lt):
                yield event

    def price_changes(self) -> list[dict[str, Any]]:
        """Every price, plan or product change this read holds (from ``gte`` to now)."""
        return list(self.events(PRICE_CHANGE_TYPES, self.gte, None))


def open_feed(
    api: StripeAPI,
    feeds: MutableMapping[str | None, EventsFeed | None],
    marks: Iterable[tuple[int | None, tuple[str, ...]]],
    *,
    overlap: int,
    stale_after_days: int,
    now: int | None,
    account: str | None = None,
) -> EventsFeed | None:
    """The account's feed for this run, opened on first use (None: no selected stream is in events
    mode). ``marks``: each selected stream's bookmark for this account (None: none) and event types.
    ``now``: Stripe's clock when already read; before that, a bookmark more than ``stale_after_days``
    older than the newest one is judged stale (that stream backfills instead; a wrong judgement only
    widens or narrows the shared read, never what a stream reads)."""
    if account in feeds:
        return feeds[account]
    known = [(bookmark, types) for bookmark, types in marks if bookmark is not None and types]
    reference = now if now is not None else max((b for b, _ in known), default=0)
    horizon = reference - stale_after_days * DAY
    wanted: set[str] = set(PRICE_CHANGE_TYPES)
    lows: list[int] = []
    for bookmark, types in known:
        if bookmark > horizon:
            lows.append(bookmark - overlap)
            wanted.update(types)
    feeds[account] = EventsFeed(api, wanted, min(lows)) if lows else None
    return feeds[account]
