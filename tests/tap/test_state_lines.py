"""The tap's STATE lines are byte for byte what singer-sdk writes, without its deep copy of the state."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from singer_sdk.singerlib import RecordMessage, StateMessage
from singer_sdk.singerlib.encoding.simple import SimpleSingerWriter
from tap_stripe_billing.tap import RecordBufferingWriter

STATE = {
    "bookmarks": {
        "subscription_billed": {
            "partitions": [
                {
                    "context": {"account_id": f"acct_{i}"},
                    "replication_key": "paid_at",
                    "replication_key_value": "2026-11-01T00:00:00+00:00",
                    "emitted": {f"in_{i}_{j}": 1761955200 + j for j in range(3)},
                    "checkpoint": {"upper": 1761955200, "done": [[1, 2], [3, 4]], "start": None},
                    "prices": {"price_1": ["Pro", 1, "month", Decimal("1.5")]},
                }
                for i in range(3)
            ],
            "binding": None,
        }
    },
    "when": dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc),
    "unicode": "Zürich ✓",
}


def test_a_state_line_is_what_singer_sdk_writes() -> None:
    message = StateMessage(value=STATE)
    assert RecordBufferingWriter().serialize_message(message) == SimpleSingerWriter().serialize_message(
        message
    )


def test_other_messages_still_go_through_singer_sdk() -> None:
    message = RecordMessage(stream="subscription_billed", record={"amount": Decimal("9.99"), "x": None})
    assert RecordBufferingWriter().serialize_message(message) == SimpleSingerWriter().serialize_message(
        message
    )
