"""The ``subscription_refunded`` stream: one record per succeeded refund of a subscription payment.

Hourly, ``refund.created`` and ``refund.updated`` (to succeeded) events; a backfill lists
``GET /v1/refunds``. The invoice comes through ``GET /v1/invoice_payments`` (invoice expanded), or, in a
backfill, from one credit-note walk. See ``lifecycle_streams.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from singer_sdk import typing as th

from tap_stripe_billing import lifecycle as lc
from tap_stripe_billing import payload_versions as pv
from tap_stripe_billing import records as rec
from tap_stripe_billing import refunds
from tap_stripe_billing.base import Candidate
from tap_stripe_billing.client import StripeAPI, list_params
from tap_stripe_billing.customers import CustomerEmails
from tap_stripe_billing.lifecycle_streams import EVENT_RETENTION, LifecycleStream
from tap_stripe_billing.records import FilterReason
from tap_stripe_billing.stripe_objects import event_object, previous_attributes
from tap_stripe_billing.windows import ReadPlan

REFUNDED_SCHEMA = th.PropertiesList(
    th.Property("refund_id", th.StringType, required=True),
    th.Property("refunded_at", th.DateTimeType, required=True),
    th.Property("invoice_id", th.StringType),
    th.Property("subscription_id", th.StringType),
    th.Property("customer_id", th.StringType),
    th.Property("customer_email", th.StringType),
    th.Property("amount", th.NumberType, description="refunded amount, positive, major units"),
    th.Property("currency", th.StringType, description="lower-case ISO code"),
    th.Property("reason", th.StringType),
    th.Property("livemode", th.BooleanType, description="false for a test-mode key's objects"),
).to_dict()


class SubscriptionRefundedStream(LifecycleStream):
    """One record per succeeded refund of a subscription payment."""

    name = "subscription_refunded"
    primary_keys = ("refund_id",)
    replication_key = "refunded_at"
    schema = REFUNDED_SCHEMA
    event_types = ("refund.created", "refund.updated")

    def read(self, api: StripeAPI, plan: ReadPlan, opening: object | None) -> Iterator[Candidate | str]:
        if plan.empty:
            return
        emails = CustomerEmails(api, self.run.emails.setdefault(self._account, {}))
        invoices: dict[tuple[str, str], dict[str, Any] | None] = {}
        now = self.run.clock.now()
        source: Iterator[tuple[dict[str, Any], bool, int | None]]
        if plan.mode == "backfill":
            params = list_params(plan.created_gte, plan.upper)
            self._link_credit_notes(api, params, invoices)
            # A recent refund may still turn succeeded in an event the next run re-reads: keep it in
            # the dedupe set as seen now. Older ones by their own time.
            source = (
                (r, self.key_livemode, now if int(r["created"]) >= now - EVENT_RETENTION else None)
                for r in api.list_all("/v1/refunds", params)
            )
        else:
            source = self._refund_events(api, plan)
        for refund, livemode, observed in source:
            if not self._live_ok(livemode):
                yield FilterReason.TEST_MODE
                continue
            if refund.get("status") != "succeeded":
                yield lc.LifecycleReason.NOT_SUCCEEDED
                continue
            build = partial(self._build, api, refund, invoices, emails)
            yield Candidate(str(refund["id"]), int(refund["created"]), observed, build)

    def _refund_events(
        self, api: StripeAPI, plan: ReadPlan
    ) -> Iterator[tuple[dict[str, Any], bool, int | None]]:
        for event in self.events(api, ["refund.created", "refund.updated"], plan.created_gte, plan.upper):
            previous = previous_attributes(event)
            refund = event_object(event)
            if event.get("type") == "refund.updated" and "status" not in previous:
                continue  # succeeded before, or still not: its succeeded moment is another event
            yield refund, event.get("livemode") is True, int(event["created"])

    def _link_credit_notes(
        self,
        api: StripeAPI,
        params: list[tuple[str, Any]],
        cache: dict[tuple[str, str], dict[str, Any] | None],
    ) -> None:
        """A backfill links refunds made through credit notes from one credit-note walk (invoices
        expanded) instead of one invoice-payments request each: ``refunds[].refund`` → ``invoice``."""
        for note in api.list_all("/v1/credit_notes", [*params, ("expand[]", "data.invoice")]):
            invoice = note.get("invoice")
            if not isinstance(invoice, Mapping):
                continue
            for entry in note.get("refunds") or []:
                refund = entry.get("refund") if isinstance(entry, Mapping) else None
                if isinstance(refund, Mapping):
                    refund = refund.get("id")
                if refund:
                    cache[("refund", str(refund))] = dict(invoice)

    def _invoice_of(
        self, api: StripeAPI, refund: Mapping[str, Any], cache: dict[tuple[str, str], dict[str, Any] | None]
    ) -> dict[str, Any] | str:
        """The invoice the refunded payment paid (cached per payment), or why there is none: see
        ``refunds.refund_link`` and ``refunds.attributed_invoice``."""
        by_note = cache.get(("refund", str(refund["id"])))
        if by_note is not None:
            return by_note
        link = refunds.refund_link(refund)
        if link is None:
            return lc.LifecycleReason.UNLINKED
        if link not in cache:
            kind, payment_id = link
            if kind == "payment_intent":
                params = [
                    ("payment[type]", "payment_intent"),
                    ("payment[payment_intent]", payment_id),
                    *list_params(),
                    ("expand[]", "data.invoice"),
                ]
                cache[link] = refunds.attributed_invoice(list(api.list_all("/v1/invoice_payments", params)))
            else:
                cache[link] = self._charge_invoice(api, payment_id)
        found = cache[link]
        if found is None:
            return lc.LifecycleReason.NOT_INVOICED if link[0] == "charge" else lc.LifecycleReason.UNLINKED
        return found

    @staticmethod
    def _charge_invoice(api: StripeAPI, charge_id: str) -> dict[str, Any] | None:
        """A Charges-API payment's invoice: the charge in the last version with ``charge.invoice``, then
        the invoice (pinned version). None when the charge paid no invoice."""
        charge = api.get(
            pv.object_path("charges", charge_id),
            missing_ok=True,
            stripe_version=refunds.CHARGE_INVOICE_VERSION,
        )
        invoice_id = (charge or {}).get("invoice")
        if isinstance(invoice_id, Mapping):
            invoice_id = invoice_id.get("id")
        if not invoice_id:
            return None
        return api.get(pv.object_path("invoices", str(invoice_id)), missing_ok=True)

    def _build(
        self,
        api: StripeAPI,
        refund: dict[str, Any],
        invoices: dict[tuple[str, str], dict[str, Any] | None],
        emails: CustomerEmails,
    ) -> dict[str, Any] | str:
        if not pv.refund_complete(refund):  # an older API version's payload: no reason, no payment_intent
            fetched = self.fetch(api, "refunds", str(refund["id"]))
            if fetched is None:
                return pv.GONE
            # Its status is the event's (it decided this candidate); the rest is the pinned object's.
            refund = {**fetched, "status": refund.get("status"), "created": refund.get("created")}
        invoice = self._invoice_of(api, refund, invoices)
        if isinstance(invoice, str):
            return invoice
        if not self._live_ok(invoice.get("livemode")):
            return FilterReason.TEST_MODE
        if rec.subscription_id(invoice) is None:
            return FilterReason.NOT_SUBSCRIPTION
        email = emails.of_invoice(invoice)
        return refunds.refund_record(refund, invoice, email)
