"""The ``subscription_billed`` stream.

How a run reads Stripe is decided in ``windows.py``; how the bookmark and the dedupe set make delivery
exactly once across runs is described in ``state.py``; the loop that wires them to singer-sdk (window,
dedupe, end-of-run state) is shared with the lifecycle streams in ``base.py``. This module says what
the stream reads: paid invoices from the invoice list (backfill) or ``invoice.paid`` events.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_stripe_billing import records as rec
from tap_stripe_billing.backfill import read_paid_invoices
from tap_stripe_billing.base import Candidate, ExactlyOnceStream
from tap_stripe_billing.client import StripeAPI
from tap_stripe_billing.customers import CustomerEmails
from tap_stripe_billing.prices import PriceCache
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

    # -- reading ----------------------------------------------------------------------------------------
    def _sources(self, api: StripeAPI, plan: ReadPlan) -> Iterator[tuple[dict[str, Any], int | None]]:
        """(invoice payload, invoice.paid event created or None) in the order Stripe gives them."""
        if plan.empty:
            return
        if plan.mode == "backfill":
            parallelism = int(self.config.get("backfill_parallelism", 8))
            prepare = partial(self._complete_lines, api, plan)
            for invoice in read_paid_invoices(api, plan.created_gte, plan.upper, parallelism, prepare):
                yield invoice, None
            return
        params: list[tuple[str, Any]] = [("types[]", "invoice.paid")]
        if plan.created_gte is not None:
            params.append(("created[gte]", plan.created_gte))
        params.extend([("created[lt]", plan.upper), ("limit", 100)])
        for event in api.list_all("/v1/events", params):
            obj = (event.get("data") or {}).get("object") or {}
            if event.get("type") != "invoice.paid" or obj.get("object", "invoice") != "invoice":
                continue
            yield obj, int(event.get("created") or 0)

    def _complete_lines(self, api: StripeAPI, plan: ReadPlan, page: list[dict[str, Any]]) -> None:
        """In a backfill slice's thread: fetch now the lines of each invoice that will be emitted and does
        not embed them all, so these requests run in parallel too (``_all_lines`` then finds them)."""
        rules = rec.Rules(
            allow_test_mode=self.allow_test_mode,
            include_zero_amount=bool(self.config.get("include_zero_amount", False)),
        )
        for invoice in page:
            lines = invoice.get("lines") or {}
            paid = rec.paid_at(invoice)
            if not lines.get("has_more") or rec.filter_reason(invoice, rules) is not None or paid is None:
                continue
            if in_window(paid, plan):
                invoice["lines"] = {**lines, "data": self._all_lines(api, invoice), "has_more": False}

    def _all_lines(self, api: StripeAPI, invoice: Mapping[str, Any]) -> list[dict[str, Any]]:
        lines = invoice.get("lines") or {}
        if not lines.get("has_more"):
            return list(lines.get("data") or [])
        return list(api.list_all(f"/v1/invoices/{invoice['id']}/lines", [("limit", 100)]))

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
        prices = PriceCache(api)
        emails = CustomerEmails(api)
        for invoice, event_created in self._sources(api, plan):
            reason = rec.filter_reason(invoice, rules, from_paid_event=event_created is not None)
            if reason is not None:
                yield reason
                continue
            paid = rec.paid_at(invoice)
            assert paid is not None
            build = partial(self._build, api, invoice, prices, emails)
            yield Candidate(str(invoice.get("id")), paid, event_created, build)
