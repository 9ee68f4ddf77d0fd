"""The lifecycle streams: ``subscription_changed`` (``changed_stream.py``), ``subscription_canceled``
(here), ``subscription_refunded`` (``refunded_stream.py``), and what they share.

All three share the exactly-once loop of ``base.py`` (bookmark U on Stripe's clock, overlap re-read,
dedupe set in state, state written only after every read). What each reads:

- ``subscription_changed``: hourly, ``customer.subscription.updated`` events; backfill, those events for
  the last 30 days (less an hour of margin) and, before that, the proration lines of the subscription
  invoices (immediate and deferred prorations), walked back from the subscriptions' current items (one
  ``status=all`` walk); see ``lifecycle.py``.
- ``subscription_canceled``: hourly, ``customer.subscription.deleted``; backfill,
  ``GET /v1/subscriptions?status=canceled``.
- ``subscription_refunded``: hourly, ``refund.created`` and ``refund.updated`` (to succeeded); backfill,
  ``GET /v1/refunds``; the invoice through ``GET /v1/invoice_payments`` (invoice expanded), or for a
  charge with no PaymentIntent through the charge read in an older API version (``lifecycle.py``).

A change is identified in state by ``subscription@changed_at`` (its ``change_id`` is the event id, or the
proration invoice id (``id@moment`` when it records several changes) for history past the events, so the
two sources would not meet on the id). A refund
read from the list is kept in the dedupe set as seen "now" when it is recent, so that a
``refund.updated`` to succeeded re-read in the next run's overlap is not emitted again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from singer_sdk import typing as th

from tap_stripe_billing import lifecycle as lc
from tap_stripe_billing import payload_versions as pv
from tap_stripe_billing import pricing
from tap_stripe_billing import records as rec
from tap_stripe_billing.base import Candidate, ExactlyOnceStream
from tap_stripe_billing.client import StripeAPI, list_params
from tap_stripe_billing.customers import CustomerEmails
from tap_stripe_billing.prices import PriceCache
from tap_stripe_billing.records import FilterReason, PriceInfo
from tap_stripe_billing.stripe_objects import event_object
from tap_stripe_billing.windows import DAY, ReadPlan

EVENT_RETENTION = 30 * DAY
RETENTION_MARGIN = 3600  # events this close to Stripe's 30-day limit are read from invoices instead

CANCELED_SCHEMA = th.PropertiesList(
    th.Property("subscription_id", th.StringType, required=True),
    th.Property("canceled_at", th.DateTimeType, required=True),
    th.Property("customer_id", th.StringType),
    th.Property("customer_email", th.StringType),
    th.Property("cancelation_reason", th.StringType),
    th.Property("livemode", th.BooleanType, description="false for a test-mode key's objects"),
).to_dict()


class LifecycleStream(ExactlyOnceStream):
    """Shared bits: test-mode rule, customer emails and prices for one run."""

    uses_created_slack = False

    def _live_ok(self, livemode: object) -> bool:
        return livemode is True or self.settings.allow_test_mode

    @property
    def key_livemode(self) -> bool:
        """Objects read with a key are of that key's mode (Refunds carry no ``livemode``)."""
        return self.settings.live_key

    def events(self, api: StripeAPI, types: list[str], gte: int | None, lt: int) -> Iterator[dict[str, Any]]:
        """``read_events``, noting each event's API version for the run's one line about versions."""
        versions = pv.tracker(self._tap)
        for event in self.read_events(api, types, gte, lt):
            versions.saw(event)
            yield event

    def fetch(self, api: StripeAPI, resource: str, object_id: str) -> dict[str, Any] | None:
        """An object in the pinned version, completing an older API version's payload (counted)."""
        found = pv.fetch(api, resource, object_id, self.payload_fetches, pv.tracker(self._tap))
        return dict(found) if found else None

    @staticmethod
    def price_resolver(prices: PriceCache) -> lc.PriceOf:
        """An embedded price as PriceInfo; the cached walk only when it names no plan level by itself."""

        def price_of(payload: Mapping[str, Any]) -> PriceInfo:
            info = rec.price_info_from_payload(payload)
            named = any(isinstance(v, str) and v.strip() for v in (info.nickname, info.lookup_key))
            if (named or info.product_name) and pricing.known(info):
                return info
            return prices.lookup(info.price_id, payload) or info

        return price_of


class SubscriptionCanceledStream(LifecycleStream):
    """One record per canceled subscription, with the cancellation reason as a readable label."""

    name = "subscription_canceled"
    primary_keys = ("subscription_id",)
    replication_key = "canceled_at"
    schema = CANCELED_SCHEMA
    event_types = ("customer.subscription.deleted",)

    def read(self, api: StripeAPI, plan: ReadPlan, opening: object | None) -> Iterator[Candidate | str]:
        if plan.empty:
            return
        emails = CustomerEmails(api, self.run.emails.setdefault(self._account, {}))
        if plan.mode == "backfill":
            # No filter on when a subscription ended: every canceled one created before U is listed.
            params = [("status", "canceled"), *list_params(None, plan.upper), ("expand[]", "data.customer")]
            source: Iterator[tuple[dict[str, Any], int | None]] = (
                (sub, None) for sub in api.list_all("/v1/subscriptions", params)
            )
        else:
            source = (
                (event_object(ev), int(ev["created"]))
                for ev in self.events(api, ["customer.subscription.deleted"], plan.created_gte, plan.upper)
            )
        for sub, observed in source:
            if not self._live_ok(sub.get("livemode")):
                yield FilterReason.TEST_MODE
                continue
            at = lc.canceled_at(sub)
            if sub.get("status") != "canceled" or at is None:
                yield lc.LifecycleReason.NOT_CANCELED
                continue
            yield Candidate(str(sub["id"]), at, observed, partial(self._build, api, sub, emails))

    def _build(self, api: StripeAPI, sub: dict[str, Any], emails: CustomerEmails) -> dict[str, Any] | str:
        if not pv.cancellation_complete(sub):  # an older API version's payload: no reason in it
            fetched = self.fetch(api, "subscriptions", str(sub["id"]))
            if fetched is None:
                return pv.GONE
            sub = {**sub, "cancellation_details": fetched.get("cancellation_details")}
        return lc.canceled_record(sub, emails.email(sub.get("customer")))
