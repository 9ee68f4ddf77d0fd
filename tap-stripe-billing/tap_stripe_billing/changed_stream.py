"""The ``subscription_changed`` stream: one record per subscription update that moved MRR.

Hourly, ``customer.subscription.updated`` events; a backfill reads those events for the last 30 days
(less an hour of margin) and, before that, the ``subscription_update`` (proration) invoices, undone from
the subscriptions' current items (one ``status=all`` walk). See ``lifecycle_streams.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from singer_sdk import typing as th

from tap_stripe_billing import lifecycle as lc
from tap_stripe_billing import records as rec
from tap_stripe_billing.base import Candidate, all_lines, event_object, previous_attributes
from tap_stripe_billing.client import StripeAPI, list_params
from tap_stripe_billing.customers import CustomerEmails
from tap_stripe_billing.lifecycle_streams import EVENT_RETENTION, RETENTION_MARGIN, LifecycleStream
from tap_stripe_billing.prices import PriceCache
from tap_stripe_billing.records import FilterReason
from tap_stripe_billing.windows import ReadPlan

CHANGED_SCHEMA = th.PropertiesList(
    th.Property("change_id", th.StringType, required=True),
    th.Property("changed_at", th.DateTimeType, required=True),
    th.Property("subscription_id", th.StringType),
    th.Property("customer_id", th.StringType),
    th.Property("customer_email", th.StringType),
    th.Property("direction", th.StringType, description="upgraded | downgraded (MRR up or down)"),
    th.Property("amount", th.NumberType, description="new recurring amount per period, major units"),
    th.Property("currency", th.StringType, description="lower-case ISO code"),
    th.Property("billing_length_months", th.NumberType),
    th.Property("plan_level", th.StringType),
    th.Property("previous_plan_level", th.StringType),
    th.Property("mrr_before", th.NumberType),
    th.Property("mrr_after", th.NumberType),
).to_dict()


class SubscriptionChangedStream(LifecycleStream):
    """One record per subscription update that moved MRR up (upgraded) or down (downgraded)."""

    name = "subscription_changed"
    primary_keys = ("change_id",)
    replication_key = "changed_at"
    schema = CHANGED_SCHEMA

    def read(self, api: StripeAPI, plan: ReadPlan, opening: object | None) -> Iterator[Candidate | str]:
        if plan.empty:
            return
        prices = PriceCache(api)
        emails = CustomerEmails(api)
        price_of = self.price_resolver(prices)
        events_from = plan.created_gte
        if plan.mode == "backfill":
            floor = self.run.clock.now() - EVENT_RETENTION + RETENTION_MARGIN
            if events_from is None or events_from < floor:
                yield from self._from_invoices(api, plan, floor, prices, emails)
                events_from = floor
        for event in self.read_events(api, ["customer.subscription.updated"], events_from, plan.upper):
            if not self._live_ok(event.get("livemode")):
                yield FilterReason.TEST_MODE
                continue
            sub = event_object(event)
            previous = previous_attributes(event)
            before = lc.previous_items(previous, sub, price_of)
            if before is None:
                yield lc.LifecycleReason.NO_ITEM_CHANGE
                continue
            created = int(event["created"])
            record = lc.change_record(
                change_id=str(event["id"]),
                subscription_id=str(sub.get("id")),
                customer_id=rec.customer_id(sub),
                changed_at=created,
                currency=str(sub.get("currency") or ""),
                before=before,
                after=lc.subscription_items(sub, price_of),
            )
            if isinstance(record, str):
                yield record
                continue
            yield Candidate(
                f"{sub.get('id')}@{created}", created, created, partial(self._finish, record, emails)
            )

    @staticmethod
    def _finish(record: dict[str, Any], emails: CustomerEmails) -> dict[str, Any]:
        record["customer_email"] = emails.email(record["customer_id"])
        return record

    def _from_invoices(
        self, api: StripeAPI, plan: ReadPlan, floor: int, prices: PriceCache, emails: CustomerEmails
    ) -> Iterator[Candidate | str]:
        """Changes created before ``floor`` (past the events), from ``subscription_update`` invoices.

        Invoices are listed up to now (the later changes are needed to undo back to the older ones),
        customers expanded; the subscriptions' current items come from one ``status=all`` walk, read
        only when an old change exists.
        """
        params = [*list_params(plan.created_gte), ("expand[]", "data.customer")]
        by_sub: dict[str, list[dict[str, Any]]] = {}
        for invoice in api.list_all("/v1/invoices", params):
            if invoice.get("billing_reason") != "subscription_update":
                continue
            if not self._live_ok(invoice.get("livemode")):
                yield FilterReason.TEST_MODE
                continue
            sub_id = rec.subscription_id(invoice)
            if sub_id is None:
                continue
            emails.remember(invoice.get("customer"))
            by_sub.setdefault(sub_id, []).append(invoice)
        wanted = {s for s, invs in by_sub.items() if any(int(i["created"]) < floor for i in invs)}
        if not wanted:
            return
        price_of = self.price_resolver(prices)
        current: dict[str, dict[str, Any]] = {}
        for listed in api.list_all("/v1/subscriptions", [("status", "all"), *list_params()]):
            if listed.get("id") in wanted:
                current[str(listed["id"])] = listed
        for sub_id in sorted(wanted):
            sub = current.get(sub_id)
            if sub is None:
                yield lc.LifecycleReason.UNKNOWN_SUBSCRIPTION
                continue
            state = self._all_items(api, sub, price_of)
            currency = str(sub.get("currency") or "")
            invoices = sorted(by_sub[sub_id], key=lambda i: (int(i["created"]), str(i["id"])), reverse=True)
            for invoice in invoices:
                lines = lc.change_lines(all_lines(api, invoice))
                before = lc.undo_change(state, lines, prices.lookup)
                created = int(invoice["created"])
                if created < floor:
                    record = lc.change_record(
                        change_id=str(invoice["id"]),
                        subscription_id=sub_id,
                        customer_id=rec.customer_id(invoice),
                        changed_at=created,
                        currency=currency or str(invoice.get("currency") or ""),
                        before=before,
                        after=state,
                    )
                    if isinstance(record, str):
                        yield record
                    else:
                        build = partial(self._finish, record, emails)
                        yield Candidate(f"{sub_id}@{created}", created, None, build)
                state = before

    @staticmethod
    def _all_items(api: StripeAPI, sub: Mapping[str, Any], price_of: lc.PriceOf) -> list[lc.Item]:
        items = sub.get("items") or {}
        if isinstance(items, Mapping) and items.get("has_more"):
            listed = list(
                api.list_all("/v1/subscription_items", [("subscription", sub["id"]), *list_params()])
            )
            return lc.items_of(listed, price_of)
        return lc.subscription_items(sub, price_of)
