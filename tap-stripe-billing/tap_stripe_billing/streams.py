"""The ``subscription_billed`` stream.

How a run reads Stripe is decided in ``windows.py``; how the bookmark and the dedupe set make delivery
exactly once across runs is described in ``state.py``; the loop that wires them to singer-sdk (window,
dedupe, end-of-run state) is shared with the lifecycle streams in ``base.py``. This module says what
the stream reads: paid invoices from the invoice list (backfill) or ``invoice.paid`` events.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_stripe_billing import payload_versions as pv
from tap_stripe_billing import records as rec
from tap_stripe_billing.backfill import (
    DEFAULT_BACKFILL_PARALLELISM,
    newest_paid_invoice,
    read_paid_invoices,
)
from tap_stripe_billing.base import Candidate, ExactlyOnceStream
from tap_stripe_billing.client import StripeAPI
from tap_stripe_billing.customers import CustomerEmails
from tap_stripe_billing.prices import PriceCache
from tap_stripe_billing.state import parse_timestamp, read_bookmark, read_emitted
from tap_stripe_billing.windows import ReadPlan, in_window

SCHEMA = th.PropertiesList(
    th.Property("invoice_id", th.StringType, required=True),
    th.Property("paid_at", th.DateTimeType, required=True),
    th.Property("customer_id", th.StringType),
    th.Property("customer_email", th.StringType),
    th.Property("subscription_id", th.StringType),
    th.Property("amount", th.NumberType, description="amount_paid in major units (exact decimal)"),
    th.Property("amount_minor", th.IntegerType, description="amount_paid in minor units"),
    th.Property("currency", th.StringType, description="lower-case ISO code"),
    th.Property("billing_length_months", th.NumberType),
    th.Property("plan_level", th.StringType),
    th.Property("billing_reason", th.StringType),
    th.Property("period_start", th.DateTimeType),
    th.Property("period_end", th.DateTimeType),
    th.Property("livemode", th.BooleanType),
).to_dict()


PRICE_WALK_PAGES_KEY = "price_walk_pages"  # in stream state: pages of the last price walk


class SubscriptionBilledStream(ExactlyOnceStream):
    """One record per successful live subscription payment (a paid Stripe invoice)."""

    # The run's first request, made for Stripe's clock and used by ``read``: (kind, created_gte,
    # first page or body, remaining pages or the request's round trip in seconds).
    _prefetched: tuple[str, int | None, Any, Any] | None = None

    name = "subscription_billed"
    primary_keys = ("invoice_id",)
    replication_key = "paid_at"
    schema = SCHEMA
    # ``records.build_record`` already gives JSON types (ISO strings, int, Decimal, bool, None) for
    # exactly the schema's properties: the SDK's recursive per-record conformance (~100 µs a record,
    # the tap's largest per-record cost) would change nothing.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    # -- the run's first request: it also gives Stripe's clock ------------------------------------------
    def first_request(self) -> None:
        """Make a request this run makes anyway, before U is known, and keep its answer for ``read``.

        - With a bookmark (events mode, unless it is older than ``stale_after_days``: that is known only
          once Stripe's clock is, and then the page is not used, so the rare stale run pays the request
          the probe would have cost): the first ``invoice.paid`` events page, asked without
          ``created[lt]``; events created at or after U (the last ``lag_minutes``) are dropped as read.
        - Whole-history backfill in slices: the newest paid invoice, which the search for the oldest one
          starts from anyway.
        - Otherwise the clock probe.

        Windows are still cut on Stripe's clock: U comes from this request's ``Date`` header.
        """
        api = self.api
        assert self.replication_key is not None
        settings = self.window_settings
        bookmark = read_bookmark(self.stream_state, self.replication_key)
        if bookmark is not None:
            gte = bookmark - settings.overlap
            pages = api.list_pages("/v1/events", self._event_params(gte, None))
            first = next(pages, None)
            self._prefetched = ("events", gte, first, pages)
            return
        start_date = parse_timestamp(self.config.get("start_date"))
        if bookmark is None and start_date is None and self._parallelism > 1:
            started = time.monotonic()
            newest = newest_paid_invoice(api)
            self._prefetched = ("newest", None, newest, time.monotonic() - started)
            return
        api.clock()

    @property
    def _parallelism(self) -> int:
        return int(self.config.get("backfill_parallelism", DEFAULT_BACKFILL_PARALLELISM))

    @staticmethod
    def _event_params(gte: int | None, lt: int | None) -> list[tuple[str, Any]]:
        params: list[tuple[str, Any]] = [("types[]", "invoice.paid")]
        if gte is not None:
            params.append(("created[gte]", gte))
        if lt is not None:
            params.append(("created[lt]", lt))
        params.append(("limit", 100))
        return params

    def _take_prefetched(self, kind: str, gte: int | None) -> tuple[Any, Any] | None:
        found = getattr(self, "_prefetched", None)
        self._prefetched = None
        if found is None or found[0] != kind or found[1] != gte:
            return None
        return found[2], found[3]

    def _events(self, api: StripeAPI, plan: ReadPlan) -> Iterator[dict[str, Any]]:
        """``invoice.paid`` events with ``created_gte ≤ created < U``, newest first."""
        prefetched = self._take_prefetched("events", plan.created_gte)
        if prefetched is None:
            yield from api.list_all("/v1/events", self._event_params(plan.created_gte, plan.upper))
            return
        first, pages = prefetched
        upper = plan.upper
        for page in itertools.chain([first] if first else [], pages):
            for event in page:
                if int(event.get("created") or 0) < upper:
                    yield event

    # -- reading ----------------------------------------------------------------------------------------
    def _sources(self, api: StripeAPI, plan: ReadPlan) -> Iterator[tuple[dict[str, Any], int | None]]:
        """(invoice payload, invoice.paid event created or None) in the order Stripe gives them."""
        if plan.empty:
            return
        if plan.mode == "backfill":
            prepare = partial(self._complete_lines, api, plan)
            newest = self._take_prefetched("newest", None)
            invoices = read_paid_invoices(
                api,
                plan.created_gte,
                plan.upper,
                self._parallelism,
                prepare,
                newest=newest[0] if newest is not None else None,
                newest_seconds=newest[1] if newest is not None else None,
                rate=float(self.config.get("max_requests_per_second", 20)),
            )
            for invoice in invoices:
                yield invoice, None
            return
        versions = pv.tracker(self._tap)
        for event in self._events(api, plan):
            obj = (event.get("data") or {}).get("object") or {}
            if event.get("type") != "invoice.paid" or obj.get("object", "invoice") != "invoice":
                continue
            versions.saw(event)
            yield obj, int(event.get("created") or 0)

    def _completed(
        self,
        api: StripeAPI,
        invoice: dict[str, Any],
        rules: rec.Rules,
        fetched: dict[str, Any],
        emitted: Mapping[str, int],
    ) -> dict[str, Any] | str:
        """An ``invoice.paid`` payload of an older API version (see payload_versions.py): the invoice
        fetched in the pinned version, or why there is no record without a fetch (test mode, or emitted
        by an earlier run: only ids are needed for those)."""
        if invoice.get("livemode") is not True and not rules.allow_test_mode:
            return rec.FilterReason.TEST_MODE
        invoice_id = str(invoice.get("id") or "")
        if invoice_id in emitted:
            return rec.FilterReason.ALREADY_EMITTED
        if invoice_id not in fetched:
            fetched[invoice_id] = pv.fetch(
                api, "invoices", invoice_id, self.payload_fetches, pv.tracker(self._tap)
            )
        found = fetched[invoice_id]
        return dict(found) if found else pv.GONE

    def _complete_lines(self, api: StripeAPI, plan: ReadPlan, page: list[dict[str, Any]]) -> None:
        """In a backfill slice's thread: fetch now the lines of each invoice that will be emitted and does
        not embed them all, so these requests run in parallel too (``_all_lines`` then finds them), and
        slim every invoice of the page to what the records read."""
        rules = rec.Rules(
            allow_test_mode=self.allow_test_mode,
            include_zero_amount=bool(self.config.get("include_zero_amount", False)),
        )
        for index, invoice in enumerate(page):
            lines = invoice.get("lines") or {}
            paid = rec.paid_at(invoice)
            wanted = rec.filter_reason(invoice, rules) is None and paid is not None and in_window(paid, plan)
            if wanted and lines.get("has_more"):
                invoice["lines"] = {**lines, "data": self._all_lines(api, invoice), "has_more": False}
            # Queued pages keep only what the records need: peak memory stays flat (see backfill.py).
            page[index] = rec.slim_invoice(invoice)

    def _all_lines(self, api: StripeAPI, invoice: Mapping[str, Any]) -> list[dict[str, Any]]:
        lines = invoice.get("lines") or {}
        if not lines.get("has_more"):
            return list(lines.get("data") or [])
        path = pv.object_path("invoices", str(invoice["id"]), "/lines")
        return list(api.list_all(path, [("limit", 100)]))

    def _build(
        self, api: StripeAPI, invoice: dict[str, Any], prices: PriceCache, emails: CustomerEmails
    ) -> dict[str, Any]:
        email = rec.clean_email(invoice.get("customer_email")) or emails.email(invoice.get("customer"))
        return rec.build_record(invoice, self._all_lines(api, invoice), prices.lookup, email)

    def read(self, api: StripeAPI, plan: ReadPlan) -> Iterator[Candidate | str]:
        """Paid invoices that qualify (SPEC §2), keyed by invoice id, with their paid event's time."""
        rules = rec.Rules(
            allow_test_mode=self.allow_test_mode,
            include_zero_amount=bool(self.config.get("include_zero_amount", False)),
        )
        prices = PriceCache(api, single_only=self._few_prices(plan, rules))
        if plan.mode == "backfill" and not plan.empty and self._parallelism > 1:
            prices.warm_in_background()  # overlapped with the search for the oldest invoice and the slices
        emails = CustomerEmails(api)
        fetched: dict[str, Any] = {}
        emitted = read_emitted(self.stream_state) if plan.mode == "incremental" else {}
        for source, event_created in self._sources(api, plan):
            invoice = source
            if event_created is not None and not pv.invoice_complete(source):
                completed = self._completed(api, source, rules, fetched, emitted)
                if isinstance(completed, str):
                    yield completed
                    continue
                invoice = completed
            reason = rec.filter_reason(invoice, rules, from_paid_event=event_created is not None)
            if reason is not None:
                yield reason
                continue
            paid = rec.paid_at(invoice)
            assert paid is not None
            build = partial(self._build, api, invoice, prices, emails)
            yield Candidate(str(invoice.get("id")), paid, event_created, build)
        if prices.walk_pages is not None:
            self.stream_state[PRICE_WALK_PAGES_KEY] = prices.walk_pages

    def _few_prices(self, plan: ReadPlan, rules: rec.Rules) -> bool:
        """True when this run needs fewer distinct prices than the last price walk had pages: an events
        run whose whole window is its first page (fewer than 100 events, already read for the clock)."""
        walk_pages = self.stream_state.get(PRICE_WALK_PAGES_KEY)
        found = getattr(self, "_prefetched", None)
        if plan.mode != "incremental" or not isinstance(walk_pages, int) or found is None:
            return False
        if found[0] != "events" or found[1] != plan.created_gte:
            return False
        first = found[2] or []
        if len(first) >= 100:
            return False  # maybe more pages: the walk is the safe choice
        needed: set[str] = set()
        for event in first:
            invoice = (event.get("data") or {}).get("object") or {}
            if event.get("type") == "invoice.paid" and not pv.invoice_complete(invoice):
                return False  # an older API version's payload: its prices are known only once fetched
            if event.get("type") != "invoice.paid" or rec.filter_reason(invoice, rules, from_paid_event=True):
                continue
            lines = (invoice.get("lines") or {}).get("data") or []
            main = rec.main_line([rec.parse_line(line) for line in lines])
            if main is not None and main.price_id:
                needed.add(main.price_id)
            if (invoice.get("lines") or {}).get("has_more"):
                return False  # its main line may be on a later page
        return len(needed) < walk_pages
