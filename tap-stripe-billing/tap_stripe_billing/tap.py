"""TapStripeBilling: settings, up-front validation, and the one-line error exit."""

from __future__ import annotations

import sys
from typing import Any

from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.io_base import SingerWriter
from singer_sdk.singerlib import RecordMessage

from tap_stripe_billing.errors import TapStripeBillingError
from tap_stripe_billing.lifecycle_streams import (
    SubscriptionCanceledStream,
    SubscriptionChangedStream,
    SubscriptionRefundedStream,
)
from tap_stripe_billing.memory import cap_malloc_arenas
from tap_stripe_billing.settings import check_settings
from tap_stripe_billing.streams import SubscriptionBilledStream


class RecordBufferingWriter(SingerWriter):
    """The SDK's writer, with RECORD lines written in blocks of about 64 KiB.

    The SDK writes and flushes stdout after each message: one ``write`` system call per record (with
    ``PYTHONUNBUFFERED`` even without the flush), and, with the backfill threads busy, a wait for the
    GIL after each. Here RECORD lines are collected and written together; every other message (SCHEMA,
    STATE, ...) first writes what is collected, then itself, then flushes, so a STATE line never reaches
    the target before the records it follows. singer-sdk ends every stream's sync with a STATE message,
    so nothing is left behind after a run; a run that fails may leave up to a block of records unwritten,
    which is harmless (records carry no state: the next run replays them).
    """

    BLOCK = 65_536

    def __init__(self) -> None:
        super().__init__()
        self._pending: list[str] = []
        self._size = 0

    def write_message(self, message: Any) -> None:
        line = self.format_message(message) + "\n"
        if isinstance(message, RecordMessage):
            self._pending.append(line)
            self._size += len(line)
            if self._size >= self.BLOCK:
                self._write_pending()
            return
        self._pending.append(line)
        self.flush()

    def _write_pending(self) -> None:
        if self._pending:
            sys.stdout.write("".join(self._pending))
            self._pending.clear()
            self._size = 0

    def flush(self) -> None:
        """Write what is collected and flush stdout."""
        self._write_pending()
        sys.stdout.flush()


# A number, or a string of one: Meltano hands `kind: decimal` settings set in the environment to
# plugins as strings at best (and crashes on them at worst), so meltano.yml declares these as strings.
DECIMAL = th.CustomType({"type": ["number", "string"], "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*$"})


class TapStripeBilling(Tap):
    """Singer tap for successful live Stripe subscription payments."""

    name = "tap-stripe-billing"
    message_writer_class = RecordBufferingWriter

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
            DECIMAL,
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
            "backoff_base_seconds",
            DECIMAL,
            default=0.5,
            description=(
                "Retries of 429, 5xx and connection errors (6 per request) wait up to this long the first"
                " time, doubling each time (capped at 30 s); lower it only for tests against a stand-in"
            ),
        ),
        th.Property(
            "backfill_parallelism",
            th.IntegerType,
            default=16,
            description="Concurrent created-time slices in a backfill (1 = sequential)",
        ),
    ).to_dict()

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Our one-line checks first (missing key, pk_, test key, plain http), then the JSON schema."""
        if raise_errors:
            check_settings(self.config)
        return super()._validate_config(raise_errors=raise_errors)

    def discover_streams(self) -> list[Stream]:
        return [
            SubscriptionBilledStream(self),
            SubscriptionChangedStream(self),
            SubscriptionCanceledStream(self),
            SubscriptionRefundedStream(self),
        ]

    @classmethod
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        """Run the CLI; a TapStripeBillingError ends it with one line on stderr and exit code 1."""
        cap_malloc_arenas()  # before any backfill thread: see memory.py
        try:
            super().invoke(*args, **kwargs)
        except TapStripeBillingError as exc:
            sys.stderr.flush()
            sys.stderr.write(f"tap-stripe-billing: error: {exc}\n")
            sys.stderr.flush()
            sys.exit(1)
        except ValueError as exc:
            # A --state or --catalog file that is not JSON (json's or simplejson's JSONDecodeError).
            if type(exc).__name__ != "JSONDecodeError":
                raise
            where = f"line {getattr(exc, 'lineno', '?')} column {getattr(exc, 'colno', '?')}"
            sys.stderr.flush()
            sys.stderr.write(
                f"tap-stripe-billing: error: the --state or --catalog file is not valid JSON ({where}):"
                " fix it, or remove --state to start from start_date\n"
            )
            sys.stderr.flush()
            sys.exit(1)
