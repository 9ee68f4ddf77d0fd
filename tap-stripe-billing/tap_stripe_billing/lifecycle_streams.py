"""The lifecycle streams: ``subscription_changed``, ``subscription_canceled``, ``subscription_refunded``.

All three share the exactly-once loop of ``base.py`` (bookmark U on Stripe's clock, overlap re-read,
dedupe set in state, state written only after every read) and say here what they read:

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
from tap_stripe_billing import pricing
from tap_stripe_billing import prorations as pr
from tap_stripe_billing import records as rec
from tap_stripe_billing.base import Candidate, ExactlyOnceStream
from tap_stripe_billing.client import StripeAPI
from tap_stripe_billing.customers import CustomerEmails
from tap_stripe_billing.prices import PriceCache
from tap_stripe_billing.records import FilterReason, PriceInfo
from tap_stripe_billing.windows import DAY, ReadPlan

EVENT_RETENTION = 30 * DAY
RETENTION_MARGIN = 3600  # events this close to Stripe's 30-day limit are read from invoices instead

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

CANCELED_SCHEMA = th.PropertiesList(
    th.Property("subscription_id", th.StringType, required=True),
    th.Property("canceled_at", th.DateTimeType, required=True),
    th.Property("customer_id", th.StringType),
    th.Property("customer_email", th.StringType),
    th.Property("cancelation_reason", th.StringType),
    th.Property("livemode", th.BooleanType, description="false for a test-mode key's objects"),
).to_dict()

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


def _event_object(event: Mapping[str, Any]) -> dict[str, Any]:
    return (event.get("data") or {}).get("object") or {}


class LifecycleStream(ExactlyOnceStream):
    """Shared bits: test-mode rule, customer emails and prices for one run."""

    uses_created_slack = False

    def _live_ok(self, livemode: object) -> bool:
        return livemode is True or self.allow_test_mode

    @property
    def key_livemode(self) -> bool:
        """Objects read with a key are of that key's mode (Refunds carry no ``livemode``)."""
        return str(self.config.get("api_key", "")).strip().startswith(("sk_live_", "rk_live_"))

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


class SubscriptionChangedStream(LifecycleStream):
    """One record per subscription update that moved MRR up (upgraded) or down (downgraded)."""

    name = "subscription_changed"
    primary_keys = ("change_id",)
    replication_key = "changed_at"
    schema = CHANGED_SCHEMA

    def read(self, api: StripeAPI, plan: ReadPlan) -> Iterator[Candidate | str]:
        if plan.empty:
            return
        self._invoices_by_sub: dict[str, list[dict[str, Any]]] = {}  # for metered prices' usage
        prices = PriceCache(api)
        emails = CustomerEmails(api)
        price_of = self.price_resolver(prices)
        events_from = plan.created_gte
        if plan.mode == "backfill":
            floor = self.now() - EVENT_RETENTION + RETENTION_MARGIN
            if events_from is None or events_from < floor:
                yield from self._from_invoices(api, plan, floor, prices, emails)
                events_from = floor
        for event in self.read_events(api, ["customer.subscription.updated"], events_from, plan.upper):
            if not self._live_ok(event.get("livemode")):
                yield FilterReason.TEST_MODE
                continue
            sub = _event_object(event)
            previous = (event.get("data") or {}).get("previous_attributes") or {}
            before = lc.previous_items(previous, sub, price_of)
            if before is None:
                yield lc.LifecycleReason.NO_ITEM_CHANGE
                continue
            created = int(event["created"])
            after = lc.subscription_items(sub, price_of)
            record = lc.change_record(
                change_id=str(event["id"]),
                subscription_id=str(sub.get("id")),
                customer_id=rec.customer_id(sub),
                changed_at=created,
                currency=str(sub.get("currency") or ""),
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
        params: list[tuple[str, Any]] = []
        if plan.created_gte is not None:
            params.append(("created[gte]", plan.created_gte))
        params.extend([("limit", 100), ("expand[]", "data.customer")])
        # subscription -> [(moment, invoice id, customer, lines, changes on that invoice)]
        by_sub: dict[str, list[tuple[int, str, str | None, list[pr.ChangeLine], int]]] = {}
        for invoice in api.list_all("/v1/invoices", params):
            sub_id = rec.subscription_id(invoice)
            if sub_id is None or not self._may_record_changes(invoice):
                continue
            if not self._live_ok(invoice.get("livemode")):
                yield FilterReason.TEST_MODE
                continue
            changes = pr.invoiced_changes(pr.change_lines(self._all_lines(api, invoice)))
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
        for listed in api.list_all("/v1/subscriptions", [("status", "all"), ("limit", 100)]):
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
            params = [("subscription", sub_id), ("limit", 100)]
            cache[sub_id] = [
                {"created": inv.get("created"), "lines": {"data": self._all_lines(api, inv)}}
                for inv in api.list_all("/v1/invoices", params)
            ]
        return lc.last_usage_amounts(cache[sub_id], metered, at)

    @staticmethod
    def _all_lines(api: StripeAPI, invoice: Mapping[str, Any]) -> list[dict[str, Any]]:
        lines = invoice.get("lines") or {}
        if not lines.get("has_more"):
            return list(lines.get("data") or [])
        return list(api.list_all(f"/v1/invoices/{invoice['id']}/lines", [("limit", 100)]))

    @staticmethod
    def _all_items(api: StripeAPI, sub: Mapping[str, Any], price_of: lc.PriceOf) -> list[lc.Item]:
        items = sub.get("items") or {}
        if isinstance(items, Mapping) and items.get("has_more"):
            listed = list(
                api.list_all("/v1/subscription_items", [("subscription", sub["id"]), ("limit", 100)])
            )
            return lc.items_of(listed, price_of)
        return lc.subscription_items(sub, price_of)


class SubscriptionCanceledStream(LifecycleStream):
    """One record per canceled subscription, with the cancellation reason as a readable label."""

    name = "subscription_canceled"
    primary_keys = ("subscription_id",)
    replication_key = "canceled_at"
    schema = CANCELED_SCHEMA

    def read(self, api: StripeAPI, plan: ReadPlan) -> Iterator[Candidate | str]:
        if plan.empty:
            return
        emails = CustomerEmails(api)
        if plan.mode == "backfill":
            # No filter on when a subscription ended: every canceled one created before U is listed.
            params = [("status", "canceled"), ("created[lt]", plan.upper), ("limit", 100)]
            source: Iterator[tuple[dict[str, Any], int | None]] = (
                (sub, None)
                for sub in api.list_all("/v1/subscriptions", [*params, ("expand[]", "data.customer")])
            )
        else:
            source = (
                (_event_object(ev), int(ev["created"]))
                for ev in self.read_events(
                    api, ["customer.subscription.deleted"], plan.created_gte, plan.upper
                )
            )
        for sub, observed in source:
            if not self._live_ok(sub.get("livemode")):
                yield FilterReason.TEST_MODE
                continue
            at = lc.canceled_at(sub)
            if sub.get("status") != "canceled" or at is None:
                yield lc.LifecycleReason.NOT_CANCELED
                continue
            yield Candidate(str(sub["id"]), at, observed, partial(self._build, sub, emails))

    @staticmethod
    def _build(sub: dict[str, Any], emails: CustomerEmails) -> dict[str, Any]:
        return lc.canceled_record(sub, emails.email(sub.get("customer")))


class SubscriptionRefundedStream(LifecycleStream):
    """One record per succeeded refund of a subscription payment."""

    name = "subscription_refunded"
    primary_keys = ("refund_id",)
    replication_key = "refunded_at"
    schema = REFUNDED_SCHEMA

    def read(self, api: StripeAPI, plan: ReadPlan) -> Iterator[Candidate | str]:
        if plan.empty:
            return
        emails = CustomerEmails(api)
        invoices: dict[tuple[str, str], dict[str, Any] | None] = {}
        now = self.now()
        source: Iterator[tuple[dict[str, Any], bool, int | None]]
        if plan.mode == "backfill":
            params: list[tuple[str, Any]] = []
            if plan.created_gte is not None:
                params.append(("created[gte]", plan.created_gte))
            params.extend([("created[lt]", plan.upper), ("limit", 100)])
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
        for event in self.read_events(
            api, ["refund.created", "refund.updated"], plan.created_gte, plan.upper
        ):
            previous = (event.get("data") or {}).get("previous_attributes") or {}
            refund = _event_object(event)
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
        ``lifecycle.refund_link`` and ``lifecycle.attributed_invoice``."""
        by_note = cache.get(("refund", str(refund["id"])))
        if by_note is not None:
            return by_note
        link = lc.refund_link(refund)
        if link is None:
            return lc.LifecycleReason.UNLINKED
        if link not in cache:
            kind, payment_id = link
            if kind == "payment_intent":
                params = [
                    ("payment[type]", "payment_intent"),
                    ("payment[payment_intent]", payment_id),
                    ("limit", 100),
                    ("expand[]", "data.invoice"),
                ]
                cache[link] = lc.attributed_invoice(list(api.list_all("/v1/invoice_payments", params)))
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
            f"/v1/charges/{charge_id}", missing_ok=True, stripe_version=lc.CHARGE_INVOICE_VERSION
        )
        invoice_id = (charge or {}).get("invoice")
        if isinstance(invoice_id, Mapping):
            invoice_id = invoice_id.get("id")
        if not invoice_id:
            return None
        return api.get(f"/v1/invoices/{invoice_id}", missing_ok=True)

    def _build(
        self,
        api: StripeAPI,
        refund: dict[str, Any],
        invoices: dict[tuple[str, str], dict[str, Any] | None],
        emails: CustomerEmails,
    ) -> dict[str, Any] | str:
        invoice = self._invoice_of(api, refund, invoices)
        if isinstance(invoice, str):
            return invoice
        if not self._live_ok(invoice.get("livemode")):
            return FilterReason.TEST_MODE
        if rec.subscription_id(invoice) is None:
            return FilterReason.NOT_SUBSCRIPTION
        email = rec.clean_email(invoice.get("customer_email")) or emails.email(invoice.get("customer"))
        return lc.refund_record(refund, invoice, email)
