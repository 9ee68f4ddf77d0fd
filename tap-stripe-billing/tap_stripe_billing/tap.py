"""TapStripeBilling: settings, up-front validation, and the one-line error exit."""

from __future__ import annotations

import sys
from functools import cached_property
from typing import Any

from singer_sdk import Stream, Tap
from singer_sdk.helpers.capabilities import PluginCapabilities
from singer_sdk.io_base import SingerWriter
from singer_sdk.singerlib import RecordMessage, StateMessage
from singer_sdk.singerlib.json import serialize_json

from tap_stripe_billing.changed_stream import SubscriptionChangedStream
from tap_stripe_billing.checkpoint import CheckpointPacer
from tap_stripe_billing.client import StripeAPI
from tap_stripe_billing.errors import TapStripeBillingError
from tap_stripe_billing.lifecycle_streams import SubscriptionCanceledStream
from tap_stripe_billing.memory import cap_malloc_arenas
from tap_stripe_billing.refunded_stream import SubscriptionRefundedStream
from tap_stripe_billing.run import Run, RunClock
from tap_stripe_billing.sdk_logs import drop_misleading_sdk_lines
from tap_stripe_billing.settings import CONFIG_SCHEMA, Settings
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

    def serialize_message(self, message: Any) -> str:
        """A STATE line without singer-sdk's deep copy of the state.

        ``Message.to_dict`` copies the whole state through ``dataclasses.asdict``, and with many connected
        accounts the state holds every partition: when a first backfill wrote a STATE after every slice,
        that copy was most of the tap's CPU (py-spy, 200 accounts; checkpoints are now paced,
        ``checkpoint.py``). The same line, from the same serializer, without the copy
        (``tests/tap/test_state_lines.py`` checks they are equal).
        """
        if isinstance(message, StateMessage):
            return serialize_json({"type": "STATE", "value": message.value})
        return super().serialize_message(message)

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


class TapStripeBilling(Tap):
    """Singer tap for successful live Stripe subscription payments."""

    name = "tap-stripe-billing"
    message_writer_class = RecordBufferingWriter
    config_jsonschema = CONFIG_SCHEMA
    # singer-sdk's capabilities without BATCH: batches would bypass the exactly-once loop (records and
    # their state bookmarks), and target-kissmetrics takes RECORD messages only.
    capabilities = [c for c in Tap.capabilities if c is not PluginCapabilities.BATCH]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        drop_misleading_sdk_lines()
        super().__init__(*args, **kwargs)

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Our one-line checks first (missing key, pk_, test key, plain http, ...), then the JSON schema."""
        # A private singer-sdk hook: see sdk_private.py.
        if raise_errors:
            self.settings  # noqa: B018 (built, and so checked, now)
        return super()._validate_config(raise_errors=raise_errors)

    @cached_property
    def settings(self) -> Settings:
        """The run's settings, checked and parsed once."""
        return Settings.from_config(self.config)

    def build_api(self) -> StripeAPI:
        """The run's one Stripe client: every stream and thread shares its rate limits."""
        settings = self.settings
        return StripeAPI(
            settings.api_key,
            settings.api_url,
            max_requests_per_second=settings.max_requests_per_second,
            max_requests_per_second_per_endpoint=settings.max_requests_per_second_per_endpoint,
            backoff_base=settings.backoff_base_seconds,
        )

    @cached_property
    def run(self) -> Run:
        """The settings, the Stripe client and the clock this run's streams share."""
        api = self.build_api()
        return Run(
            self.settings, api, RunClock(api), CheckpointPacer(self.settings.checkpoint_interval_seconds)
        )

    def discover_streams(self) -> list[Stream]:
        run = self.run
        return [
            SubscriptionBilledStream(self, run),
            SubscriptionChangedStream(self, run),
            SubscriptionCanceledStream(self, run),
            SubscriptionRefundedStream(self, run),
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
