"""What a run's streams read once and share, per account: the events read (``events_feed.py``) and
the prices remembered in state (``price_memory.py``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from tap_stripe_billing import price_memory
from tap_stripe_billing.client import StripeAPI, list_params
from tap_stripe_billing.events_feed import EventsFeed, open_feed
from tap_stripe_billing.partitioned import PartitionedStream
from tap_stripe_billing.prices import PriceCache
from tap_stripe_billing.state import read_bookmark
from tap_stripe_billing.windows import ReadPlan

LOGGER = logging.getLogger("tap_stripe_billing")


class SharedReadsStream(PartitionedStream):
    """A stream that reads events and prices through the run's shared reads."""

    # The event types the stream reads in events mode (from the run's shared read, events_feed.py).
    event_types: tuple[str, ...] = ()

    # -- the run's shared events read and remembered prices ----------------------------------------------
    def feed(self) -> EventsFeed | None:
        """The run's one events read for the account being read (opened on first use; None: no selected
        stream is in events mode). Keyed by account: ``None`` is the key's own account."""
        streams = [s for s in self._tap.streams.values() if isinstance(s, SharedReadsStream) and s.selected]
        marks = []
        for stream in streams:
            if stream.event_types and stream.replication_key is not None:
                state = self._state_of(stream)
                marks.append((read_bookmark(state, stream.replication_key), stream.event_types))
        clock = self.run.clock
        return open_feed(
            self.api,
            self.run.feeds,
            marks,
            overlap=self.window_settings.overlap,
            stale_after_days=self.window_settings.stale_after_days,
            now=clock.now() if clock.is_read else None,
            account=self._account,
        )

    def _state_of(self, stream: SharedReadsStream) -> dict[str, Any]:
        """A selected stream's state for the account being read: bound to the key when it is the key's
        own; a connected account's partition as saved (it only places the shared read: each stream still
        checks that the read covers its own window)."""
        if stream is self or self._account is None:
            stream.bind_state()
            return stream.stream_state
        return stream.get_context_state({"account_id": self._account})

    def price_cache(self, plan: ReadPlan, borrow_from: str | None = None) -> PriceCache:
        """This run's prices: those remembered in state (valid when the shared events read covers the
        time since they were written; its price/product/plan changes dropped), else none (walk).
        ``borrow_from``: a selected stream whose remembered plan levels (of the same account) may complete
        embedded prices."""
        feed = self.feed() if plan.mode == "incremental" else None
        covered_from = feed.gte if feed else None
        changes = feed.price_changes() if feed else []
        remembered = price_memory.load(self.stream_state, covered_from=covered_from)
        dropped = price_memory.invalidate(remembered, changes)
        if dropped:
            LOGGER.info("%s: %d remembered prices changed since the last run", self.name, dropped)
        lender = self._tap.streams.get(borrow_from or "")
        borrowed = {}
        if isinstance(lender, SharedReadsStream) and lender.selected:
            lent = self._state_of(lender)
            if lent.get("binding", {}).get("account_id") == self._account:  # never another account's
                borrowed = price_memory.load(lent, covered_from=covered_from)
                price_memory.invalidate(borrowed, changes)
        return PriceCache(self.api, remembered=remembered, borrowed=borrowed)

    def remember_prices(
        self, prices: PriceCache, plan: ReadPlan, *, amounts: bool, walked: bool = False
    ) -> None:
        """Keep the prices this run used (and the still-valid remembered ones; ``walked``: every price a
        walk found) in state, as of U."""
        entries = prices.remember(amounts=amounts, walked=walked)
        price_memory.save(self.stream_state, entries, at=plan.upper)

    # -- the loop ---------------------------------------------------------------------------------------
    def read_events(
        self, api: StripeAPI, types: list[str], gte: int | None, lt: int | None
    ) -> Iterator[dict[str, Any]]:
        """Events of the given types with ``gte ≤ created < lt``, newest first: from the run's shared
        read when it covers them, else ``GET /v1/events`` of this stream's own."""
        feed = self.feed()
        if feed is not None and gte is not None and feed.covers(types, gte):
            yield from feed.events(types, gte, lt)
            return
        for event in api.list_all("/v1/events", event_params(types, gte, lt)):
            if event.get("type") in types:
                yield event


def event_params(types: list[str], gte: int | None, lt: int | None) -> list[tuple[str, Any]]:
    """``GET /v1/events`` parameters: the types, then the created range and page size."""
    return [("types[]", t) for t in types] + list_params(gte, lt)
