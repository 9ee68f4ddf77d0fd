"""TapStripeBilling: settings, up-front validation, and the one-line error exit."""

from __future__ import annotations

import sys
from typing import Any

from singer_sdk import Stream, Tap
from singer_sdk import typing as th

from tap_stripe_billing.errors import TapStripeBillingError
from tap_stripe_billing.settings import check_settings
from tap_stripe_billing.streams import SubscriptionBilledStream


class TapStripeBilling(Tap):
    """Singer tap for successful live Stripe subscription payments."""

    name = "tap-stripe-billing"

    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_key",
            th.StringType,
            required=True,
            secret=True,
            description="Stripe secret or restricted key (sk_live_..., rk_live_...)",
        ),
        th.Property(
            "start_date", th.DateTimeType, description="Earliest paid_at to import (none = whole history)"
        ),
        th.Property(
            "api_url",
            th.StringType,
            default="https://api.stripe.com",
            description="Stripe API base. Plain http only for loopback hosts",
        ),
        th.Property(
            "allow_test_mode",
            th.BooleanType,
            default=False,
            description="Accept a test-mode key (sk_test_/rk_test_) and import test-mode payments too",
        ),
        th.Property(
            "include_zero_amount",
            th.BooleanType,
            default=False,
            description="Also emit paid invoices with amount_paid == 0 (trials, 100% coupons)",
        ),
        th.Property(
            "max_requests_per_second",
            th.NumberType,
            default=20,
            description="Client-side request rate limit (Stripe allows 100/s live)",
        ),
        th.Property(
            "lag_minutes",
            th.IntegerType,
            default=5,
            description="Never read the last few minutes (Stripe lists and events are eventually consistent)",
        ),
        th.Property(
            "overlap_minutes",
            th.IntegerType,
            default=60,
            description="Re-read this much before the bookmark to catch late events (deduplicated)",
        ),
        th.Property(
            "created_slack_days",
            th.IntegerType,
            default=62,
            description=(
                "Backfill lists invoices created this many days before the lower bound, because invoices are"
                " paid after creation (Stripe's longest retry schedule is 2 months)"
            ),
        ),
        th.Property(
            "backfill_parallelism",
            th.IntegerType,
            default=8,
            description="Concurrent created-time slices in a backfill (1 = sequential)",
        ),
    ).to_dict()

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Our one-line checks first (missing key, pk_, test key, plain http), then the JSON schema."""
        if raise_errors:
            check_settings(self.config)
        return super()._validate_config(raise_errors=raise_errors)

    def discover_streams(self) -> list[Stream]:
        return [SubscriptionBilledStream(self)]

    @classmethod
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        """Run the CLI; a TapStripeBillingError ends it with one line on stderr and exit code 1."""
        try:
            super().invoke(*args, **kwargs)
        except TapStripeBillingError as exc:
            sys.stderr.flush()
            sys.stderr.write(f"tap-stripe-billing: error: {exc}\n")
            sys.stderr.flush()
            sys.exit(1)
