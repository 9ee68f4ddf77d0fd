"""The ``subscription_billed`` stream.

How a run reads Stripe is decided in ``windows.py``; how the bookmark and the dedupe set make delivery
exactly once across runs is described in ``state.py``. This module wires them to singer-sdk:

- ``is_sorted = False`` (Stripe lists newest first);
- ``get_replication_key_signpost()`` returns the run's upper bound U (now - lag), computed once;
- the stream writes its own end-of-run state (bookmark U, dedupe set) after the last record, once every
  read has completed; an exception before that leaves the previous bookmark in place.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from singer_sdk import Stream
from singer_sdk import typing as th

from tap_stripe_billing import records as rec
from tap_stripe_billing.backfill import read_paid_invoices
from tap_stripe_billing.client import StripeAPI
from tap_stripe_billing.prices import PriceCache
from tap_stripe_billing.state import dedupe_key, finalize, parse_timestamp, read_bookmark, read_emitted
from tap_stripe_billing.windows import ReadPlan, WindowSettings, in_window, plan_read, upper_bound

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

LOGGER = logging.getLogger("tap_stripe_billing")

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


class SubscriptionBilledStream(Stream):
    """One record per successful live subscription payment (a paid Stripe invoice)."""

    name = "subscription_billed"
    primary_keys = ("invoice_id",)
    replication_key = "paid_at"
    is_sorted = False
    schema = SCHEMA

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._upper: int | None = None
        self._now: int | None = None
        self._api: StripeAPI | None = None
        self.summary: dict[str, Any] = {}

    # -- settings -------------------------------------------------------------------------------------
    @property
    def window_settings(self) -> WindowSettings:
        return WindowSettings(
            lag_minutes=int(self.config.get("lag_minutes", 5)),
            overlap_minutes=int(self.config.get("overlap_minutes", 60)),
            created_slack_days=int(self.config.get("created_slack_days", 62)),
        )

    def now(self) -> int:
        """Stripe's clock (its Date header), read once per run: see ``StripeAPI.clock``."""
        if self._now is None:
            self._now = self.api.clock()
        return self._now

    @property
    def upper(self) -> int:
        """U = now - lag, frozen for the run."""
        if self._upper is None:
            self._upper = upper_bound(self.now(), self.window_settings)
        return self._upper

    def get_replication_key_signpost(self, context: Context | None = None) -> dt.datetime | None:
        """The bookmark never goes past U (the stream writes exactly U at the end)."""
        return dt.datetime.fromtimestamp(self.upper, tz=dt.timezone.utc)

    @property
    def api(self) -> StripeAPI:
        """One Stripe reader per run (its request counts make the run summary)."""
        if self._api is None:
            self._api = self.build_api()
        return self._api

    def build_api(self) -> StripeAPI:
        return StripeAPI(
            str(self.config["api_key"]),
            str(self.config.get("api_url") or "https://api.stripe.com"),
            max_requests_per_second=float(self.config.get("max_requests_per_second", 20)),
        )

    # -- reading ----------------------------------------------------------------------------------------
    def _sources(self, api: StripeAPI, plan: ReadPlan) -> Iterator[tuple[dict[str, Any], int | None]]:
        """(invoice payload, invoice.paid event created or None) in the order Stripe gives them."""
        if plan.empty:
            return
        if plan.mode == "backfill":
            parallelism = int(self.config.get("backfill_parallelism", 8))
            for invoice in read_paid_invoices(api, plan.created_gte, plan.upper, parallelism):
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

    def _all_lines(self, api: StripeAPI, invoice: Mapping[str, Any]) -> list[dict[str, Any]]:
        lines = invoice.get("lines") or {}
        if not lines.get("has_more"):
            return list(lines.get("data") or [])
        return list(api.list_all(f"/v1/invoices/{invoice['id']}/lines", [("limit", 100)]))

    def _email(self, api: StripeAPI, invoice: Mapping[str, Any], cache: dict[str, str | None]) -> str | None:
        email = rec.clean_email(invoice.get("customer_email"))
        if email is not None:
            return email
        customer = invoice.get("customer")
        if isinstance(customer, Mapping):
            return rec.clean_email(customer.get("email"))
        if not customer:
            return None
        if customer not in cache:
            body = api.get(f"/v1/customers/{customer}", missing_ok=True)
            cache[customer] = rec.clean_email(body.get("email")) if body else None
        return cache[customer]

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Read, filter, dedupe and build records; write the end-of-run state after the last one."""
        settings = self.window_settings
        state = self.stream_state
        previous_bookmark = read_bookmark(state)
        previously_emitted = read_emitted(state) if previous_bookmark is not None else {}
        start_date = parse_timestamp(self.config.get("start_date"))
        plan = plan_read(
            now=self.now(),
            bookmark=previous_bookmark,
            start_date=start_date,
            settings=settings,
            upper=self.upper,
        )
        LOGGER.info(
            "Reading Stripe in %s mode: created/event window [%s, %s)",
            plan.mode,
            plan.created_gte,
            plan.upper,
        )
        rules = rec.Rules(
            allow_test_mode=bool(self.config.get("allow_test_mode", False)),
            include_zero_amount=bool(self.config.get("include_zero_amount", False)),
        )
        api = self.api
        prices = PriceCache(api)
        emails: dict[str, str | None] = {}
        filtered: Counter[str] = Counter()
        emitted = dict(previously_emitted)
        this_run: set[str] = set()
        count = 0

        for invoice, event_created in self._sources(api, plan):
            invoice_id = str(invoice.get("id"))
            reason = rec.filter_reason(invoice, rules, from_paid_event=event_created is not None)
            if reason is None:
                paid = rec.paid_at(invoice)
                assert paid is not None
                if not in_window(paid, plan):
                    starts_late = plan.start_date is not None and paid < plan.start_date
                    reason = (
                        rec.FilterReason.BEFORE_START_DATE if starts_late else rec.FilterReason.OUT_OF_WINDOW
                    )
                elif invoice_id in this_run:
                    reason = rec.FilterReason.DUPLICATE
                elif invoice_id in previously_emitted:
                    reason = rec.FilterReason.ALREADY_EMITTED
            if reason is not None:
                filtered[reason] += 1
                continue
            record = rec.build_record(
                invoice,
                self._all_lines(api, invoice),
                prices.lookup,
                self._email(api, invoice, emails),
            )
            this_run.add(invoice_id)
            emitted[invoice_id] = dedupe_key(int(rec.paid_at(invoice) or 0), event_created)
            count += 1
            yield record

        # Every read completed: only now may the bookmark move.
        finalize(
            state,
            previous_bookmark=previous_bookmark,
            upper=plan.upper,
            emitted=emitted,
            overlap_seconds=settings.overlap,
        )
        self.summary = {
            "mode": plan.mode,
            "requests": api.request_summary(),
            "retries": dict(api.retries),
            "records_emitted": count,
            "filtered_out": dict(sorted(filtered.items())),
        }
        LOGGER.info(
            "Run summary: mode=%s requests=%s retries=%s records_emitted=%d filtered_out=%s",
            plan.mode,
            self.summary["requests"],
            self.summary["retries"],
            count,
            self.summary["filtered_out"],
        )
