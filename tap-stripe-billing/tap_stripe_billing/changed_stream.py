"""The ``subscription_changed`` stream: one record per subscription update that moved MRR.

Hourly, ``customer.subscription.updated`` events; a backfill reads those events for the last 30 days
(less an hour of margin) and, before that, the proration lines of the subscription invoices (immediate
and deferred prorations), walked back from the subscriptions' current items (one ``status=all`` walk).
See ``lifecycle_streams.py`` and ``lifecycle.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from singer_sdk import typing as th

from tap_stripe_billing import lifecycle as lc
from tap_stripe_billing import payload_versions as pv
from tap_stripe_billing import prorations as pr
from tap_stripe_billing import records as rec
from tap_stripe_billing.base import Candidate
from tap_stripe_billing.client import StripeAPI, list_params
from tap_stripe_billing.customers import CustomerEmails
from tap_stripe_billing.lifecycle_streams import EVENT_RETENTION, RETENTION_MARGIN, LifecycleStream
from tap_stripe_billing.prices import PriceCache
from tap_stripe_billing.records import FilterReason
from tap_stripe_billing.stripe_objects import all_lines, event_object, previous_attributes
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
    th.Property("livemode", th.BooleanType, description="false for a test-mode key's objects"),
).to_dict()


class SubscriptionChangedStream(LifecycleStream):
    """One record per subscription update that moved MRR up (upgraded) or down (downgraded)."""

    name = "subscription_changed"
    primary_keys = ("change_id",)
    replication_key = "changed_at"
    schema = CHANGED_SCHEMA
    event_types = ("customer.subscription.updated",)

    def read(self, api: StripeAPI, plan: ReadPlan, opening: object | None) -> Iterator[Candidate | str]:
        if plan.empty:
            return
        self._invoices_by_sub: dict[str, list[dict[str, Any]]] = {}  # for metered prices' usage
        prices = self.price_cache(plan, borrow_from="subscription_billed")
        emails = CustomerEmails(api, self.run.emails.setdefault(self._account, {}))
        price_of = self.price_resolver(prices)
        events_from = plan.created_gte
        if plan.mode == "backfill":
            floor = self.run.clock.now() - EVENT_RETENTION + RETENTION_MARGIN
            if events_from is None or events_from < floor:
                yield from self._from_invoices(api, plan, floor, prices, emails)
                events_from = floor
        for event in self.events(api, ["customer.subscription.updated"], events_from, plan.upper):
            if not self._live_ok(event.get("livemode")):
                yield FilterReason.TEST_MODE
                continue
            sub = event_object(event)
            previous = previous_attributes(event)
            if _same_items(previous, sub):  # a renewal (new period) or another update of other fields
                yield lc.LifecycleReason.NO_ITEM_CHANGE
                continue
            before = lc.previous_items(previous, sub, price_of)
            if before is None:
                yield lc.LifecycleReason.NO_ITEM_CHANGE
                continue
            created = int(event["created"])
            after = lc.subscription_items(sub, price_of)
            currency = pv.subscription_currency(sub, [price.currency for _, price, _ in after + before])
            record = lc.change_record(
                change_id=str(event["id"]),
                subscription_id=str(sub.get("id")),
                customer_id=rec.customer_id(sub),
                changed_at=created,
                currency=currency,
                before=before,
                after=after,
                metered=self._usage(api, str(sub.get("id")), created, before, after),
            )
            if isinstance(record, str):
                yield record
                continue
            yield Candidate(
                f"{sub.get('id')}@{created}", created, created, partial(self._finish, record, emails)
            )
        self.remember_prices(prices, plan, amounts=True)

    @staticmethod
    def _finish(record: dict[str, Any], emails: CustomerEmails) -> dict[str, Any]:
        record["customer_email"] = emails.email(record["customer_id"])
        return record

    def _from_invoices(
        self, api: StripeAPI, plan: ReadPlan, floor: int, prices: PriceCache, emails: CustomerEmails
    ) -> Iterator[Candidate | str]:
        """Changes made before ``floor`` (past the events), from proration lines (``pr.invoiced_changes``):
        on ``subscription_update`` invoices (immediate prorations) and on ordinary subscription invoices
        (deferred prorations, Stripe's default).

        Invoices are listed up to now (the later changes are needed to walk back to the older ones),
        customers expanded; the subscriptions' current items come from one ``status=all`` walk, read
        only when an old change exists. A change is ``invoice id`` when its invoice records one change,
        else ``invoice id@moment``.
        """
        params = [*list_params(plan.created_gte), ("expand[]", "data.customer")]
        # subscription -> [(moment, invoice id, customer, lines, changes on that invoice)]
        by_sub: dict[str, list[tuple[int, str, str | None, list[pr.ChangeLine], int]]] = {}
        for invoice in api.list_all("/v1/invoices", params):
            sub_id = rec.subscription_id(invoice)
            if sub_id is None or not self._may_record_changes(invoice):
                continue
            if not self._live_ok(invoice.get("livemode")):
                yield FilterReason.TEST_MODE
                continue
            changes = pr.invoiced_changes(pr.change_lines(all_lines(api, invoice)))
            if not changes:
                continue
            emails.remember(invoice.get("customer"))
            for at, lines in changes:
                entry = (at, str(invoice["id"]), rec.customer_id(invoice), lines, len(changes))
                by_sub.setdefault(sub_id, []).append(entry)
        wanted = {s for s, found in by_sub.items() if any(at < floor for at, *_ in found)}
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
            for at, invoice_id, customer, lines, count in sorted(
                by_sub[sub_id], key=lambda e: (e[0], e[1]), reverse=True
            ):
                after = pr.redo_change(state, lines, prices.lookup)
                before = pr.undo_change(after, lines, prices.lookup)
                if at < floor:
                    record = lc.change_record(
                        change_id=invoice_id if count == 1 else f"{invoice_id}@{at}",
                        subscription_id=sub_id,
                        customer_id=customer,
                        changed_at=at,
                        currency=currency,
                        before=before,
                        after=after,
                        metered=self._usage(api, sub_id, at, before, after),
                    )
                    if isinstance(record, str):
                        yield record
                    else:
                        build = partial(self._finish, record, emails)
                        yield Candidate(f"{sub_id}@{at}", at, None, build)
                state = before

    @staticmethod
    def _may_record_changes(invoice: Mapping[str, Any]) -> bool:
        """An invoice that may carry proration lines: a ``subscription_update`` one, or one whose
        embedded lines hold a proration, or (lines not all embedded) a renewal."""
        reason = invoice.get("billing_reason")
        lines = invoice.get("lines") or {}
        if reason == "subscription_update":
            return True
        if lines.get("has_more"):
            return reason == "subscription_cycle"
        return any(rec.parse_line(line).is_proration for line in lines.get("data") or [])

    def _usage(
        self, api: StripeAPI, sub_id: str, at: int, before: list[lc.Item], after: list[lc.Item]
    ) -> lc.Metered | None:
        """The last usage line amounts of the metered prices of a change (``lifecycle.mrr``), from the
        subscription's invoices (one list per subscription and run); None when no price is metered."""
        metered = lc.metered_prices(before, after)
        if not metered:
            return None
        cache = self._invoices_by_sub
        if sub_id not in cache:
            params = [("subscription", sub_id), *list_params()]
            cache[sub_id] = [
                {"created": inv.get("created"), "lines": {"data": all_lines(api, inv)}}
                for inv in api.list_all("/v1/invoices", params)
            ]
        return lc.last_usage_amounts(cache[sub_id], metered, at)

    @staticmethod
    def _all_items(api: StripeAPI, sub: Mapping[str, Any], price_of: lc.PriceOf) -> list[lc.Item]:
        items = sub.get("items") or {}
        if isinstance(items, Mapping) and items.get("has_more"):
            listed = list(
                api.list_all("/v1/subscription_items", [("subscription", sub["id"]), *list_params()])
            )
            return lc.items_of(listed, price_of)
        return lc.subscription_items(sub, price_of)


def _item_keys(items: object) -> list[tuple[str, object]] | None:
    """(price id, quantity) of every item of a subscription's ``items`` list (None: not all there)."""
    if not isinstance(items, Mapping) or items.get("has_more"):
        return None
    data = items.get("data")
    if not isinstance(data, list):
        return None
    keys: list[tuple[str, object]] = []
    for item in data:
        price = (item.get("price") or item.get("plan") or {}) if isinstance(item, Mapping) else {}
        keys.append((str(price.get("id") if isinstance(price, Mapping) else price), item.get("quantity")))
    return sorted(keys, key=repr)


def _same_items(previous: Mapping[str, Any], sub: Mapping[str, Any]) -> bool:
    """True when ``previous_attributes.items`` holds the same prices and quantities as now: Stripe's
    update at each renewal (only the items' periods moved), which changes no MRR; no price is needed."""
    if "items" not in previous:
        return False
    before = _item_keys(previous.get("items"))
    return before is not None and before == _item_keys(sub.get("items"))
