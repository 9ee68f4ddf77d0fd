"""The ``subscription_billed`` stream.

How a run reads Stripe is decided in ``windows.py``; how the bookmark and the dedupe set make delivery
exactly once across runs is described in ``state.py``; the loop that wires them to singer-sdk (window,
dedupe, end-of-run state) is shared with the lifecycle streams in ``base.py``. This module says what
the stream reads: paid invoices from the invoice list (backfill) or ``invoice.paid`` events.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_stripe_billing import payload_versions as pv
from tap_stripe_billing import records as rec
from tap_stripe_billing.backfill import newest_paid_page, read_paid_invoices
from tap_stripe_billing.base import LOGGER, Candidate, ExactlyOnceStream
from tap_stripe_billing.client import StripeAPI
from tap_stripe_billing.customers import CustomerEmails
from tap_stripe_billing.invoice_pages import created_of, read_pages
from tap_stripe_billing.prices import PriceCache
from tap_stripe_billing.slim import slim_invoice
from tap_stripe_billing.state import read_emitted, to_iso
from tap_stripe_billing.stripe_objects import all_lines, event_object
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


@dataclass(frozen=True)
class NewestInvoice:
    """The run's first request in a whole-history backfill: the newest page of paid invoices (the whole
    read when the account has at most one page of them), and its round trip in seconds."""

    body: dict[str, Any] | None
    seconds: float


class SubscriptionBilledStream(ExactlyOnceStream):
    """One record per successful live subscription payment (a paid Stripe invoice)."""

    name = "subscription_billed"
    primary_keys = ("invoice_id",)
    replication_key = "paid_at"
    schema = SCHEMA
    # ``records.build_record`` already gives JSON types (ISO strings, int, Decimal, bool, None) for
    # exactly the schema's properties: the SDK's recursive per-record conformance (~100 µs a record,
    # the tap's largest per-record cost) would change nothing.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    event_types = ("invoice.paid",)
    unique_in_backfill = True  # disjoint created slices of the invoice list
    # Events looked ahead at for old-version payloads to complete from invoice pages (invoice_pages.py).
    lookahead = 5000

    # -- the run's first request: it also gives Stripe's clock ------------------------------------------
    def open_run(self, api: StripeAPI, bookmark: int | None) -> NewestInvoice | None:
        """Make a request this run makes anyway, before U is known; ``read`` gets its answer.

        - With a bookmark (events mode, unless it is older than ``stale_after_days``: that is known only
          once Stripe's clock is, and then the page is not used, so the rare stale run pays the request
          the probe would have cost): the first page of the run's shared events read (``events_feed.py``),
          asked without ``created[lt]``; events created at or after U (the last ``lag_minutes``) are
          dropped as read.
        - Whole-history backfill in slices: the newest page of paid invoices, which the backfill reads
          first anyway (``backfill.py``).
        - Otherwise none: the clock probes.

        Windows are still cut on Stripe's clock: U comes from this request's ``Date`` header.
        """
        settings = self.settings
        if bookmark is not None:
            self.feed()
            return None
        if settings.start_date is None and settings.backfill_parallelism > 1:
            started = time.monotonic()
            newest = newest_paid_page(api)
            return NewestInvoice(newest, time.monotonic() - started)
        return None

    # -- reading ----------------------------------------------------------------------------------------
    def _sources(
        self, api: StripeAPI, plan: ReadPlan, opening: object | None
    ) -> Iterator[tuple[dict[str, Any], int | None]]:
        """(invoice payload, invoice.paid event created or None) in the order Stripe gives them."""
        if plan.empty:
            return
        if plan.mode == "backfill":
            prepare = partial(self._complete_lines, api, plan)
            newest = opening if isinstance(opening, NewestInvoice) and plan.created_gte is None else None
            checkpoint = self.start.checkpoint if plan is self.start.plan else None
            if checkpoint is not None and checkpoint.resuming:
                newest = None
                LOGGER.info(
                    "%s: resuming the backfill up to %s: %d created ranges already delivered",
                    self.name,
                    to_iso(checkpoint.upper),
                    len(checkpoint.done),
                )
            invoices = read_paid_invoices(
                api,
                plan.created_gte,
                plan.upper,
                self.settings.backfill_parallelism,
                prepare,
                newest=newest.body if newest is not None else None,
                newest_seconds=newest.seconds if newest is not None else None,
                rate=self.settings.max_requests_per_second,
                on_slice_done=self.on_slice_done if checkpoint is not None else None,
                done=checkpoint.done if checkpoint is not None else None,
            )
            for invoice in invoices:
                yield invoice, None
            return
        versions = pv.tracker(self._tap)
        for event in self.read_events(api, list(self.event_types), plan.created_gte, plan.upper):
            obj = event_object(event)
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

    def _paged(
        self,
        api: StripeAPI,
        sources: Iterator[tuple[dict[str, Any], int | None]],
        rules: rec.Rules,
        fetched: dict[str, Any],
        emitted: Mapping[str, int],
    ) -> Iterator[tuple[dict[str, Any], int | None]]:
        """The sources, unchanged and in order, ``lookahead`` at a time: before a batch is handed on, the
        old-version payloads it will complete (live or allowed, not emitted by an earlier run, not
        fetched yet: what ``_completed`` would fetch) are read from paid-invoice pages into ``fetched``
        when two or more are wanted; ``_completed`` fetches by id only what the pages did not hold."""
        batch: list[tuple[dict[str, Any], int | None]] = []
        for item in sources:
            batch.append(item)
            if len(batch) >= self.lookahead:
                self._read_pages(api, batch, rules, fetched, emitted)
                yield from batch
                batch = []
        self._read_pages(api, batch, rules, fetched, emitted)
        yield from batch

    def _read_pages(
        self,
        api: StripeAPI,
        batch: list[tuple[dict[str, Any], int | None]],
        rules: rec.Rules,
        fetched: dict[str, Any],
        emitted: Mapping[str, int],
    ) -> None:
        wanted: dict[str, int] = {}
        for invoice, event_created in batch:
            if event_created is None or pv.invoice_complete(invoice):
                continue
            if invoice.get("livemode") is not True and not rules.allow_test_mode:
                continue
            invoice_id, created = str(invoice.get("id") or ""), created_of(invoice)
            if invoice_id and created is not None and invoice_id not in emitted and invoice_id not in fetched:
                wanted[invoice_id] = created
        if len(wanted) >= 2:  # kept slim (slim.py): up to ``lookahead`` of them wait for their event
            found = read_pages(api, wanted, self.payload_fetches, pv.tracker(self._tap))
            fetched.update((invoice_id, slim_invoice(invoice)) for invoice_id, invoice in found.items())

    def _complete_lines(self, api: StripeAPI, plan: ReadPlan, page: list[dict[str, Any]]) -> None:
        """In a backfill slice's thread: fetch now the lines of each invoice that will be emitted and does
        not embed them all, so these requests run in parallel too (``_all_lines`` then finds them), and
        slim every invoice of the page to what the records read."""
        rules = self._rules
        for index, invoice in enumerate(page):
            lines = invoice.get("lines") or {}
            paid = rec.paid_at(invoice)
            wanted = rec.filter_reason(invoice, rules) is None and paid is not None and in_window(paid, plan)
            if wanted and lines.get("has_more"):
                invoice["lines"] = {**lines, "data": all_lines(api, invoice), "has_more": False}
            # Queued pages keep only what the records need: peak memory stays flat (see backfill.py).
            page[index] = slim_invoice(invoice)

    @property
    def _rules(self) -> rec.Rules:
        return rec.Rules(
            allow_test_mode=self.settings.allow_test_mode,
            include_zero_amount=self.settings.include_zero_amount,
        )

    def _build(
        self, api: StripeAPI, invoice: dict[str, Any], prices: PriceCache, emails: CustomerEmails
    ) -> dict[str, Any]:
        email = emails.of_invoice(invoice)
        return rec.build_record(invoice, all_lines(api, invoice), prices.lookup, email)

    def read(self, api: StripeAPI, plan: ReadPlan, opening: object | None) -> Iterator[Candidate | str]:
        """Paid invoices that qualify (SPEC §2), keyed by invoice id, with their paid event's time."""
        rules = self._rules
        prices = self.price_cache(plan)
        if plan.mode == "backfill" and not plan.empty and self.settings.backfill_parallelism > 1:
            prices.warm_in_background()  # overlapped with the search for the oldest invoice and the slices
        emails = CustomerEmails(api, self.run.emails.setdefault(self._account, {}))
        fetched: dict[str, Any] = {}
        emitted = read_emitted(self.stream_state) if plan.mode == "incremental" else {}
        sources = self._sources(api, plan, opening)
        if plan.mode == "incremental":
            sources = self._paged(api, sources, rules, fetched, emitted)
        for source, event_created in sources:
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
        self.stream_state.pop("price_walk_pages", None)  # the walk's size, kept by earlier versions
        # Every walked price's plan level (no amounts): subscription_changed borrows them.
        self.remember_prices(prices, plan, amounts=False, walked=True)
