"""Stream state: the bookmark and the dedupe set that make delivery exactly once across runs.

The stream state (``bookmarks.subscription_billed``) holds, besides singer-sdk's keys::

    {"replication_key": "paid_at",
     "replication_key_value": "<U of the last complete run, ISO>",
     "emitted": [["in_…", <dedupe key, unix seconds>], …]}

- The bookmark is that run's upper bound U, not the largest ``paid_at`` seen: every invoice paid before
  U whose payload was visible has been read. It is written only at the very end of a run whose reads all
  completed; a failed run raises before that, so singer-sdk emits no state past what it emitted (the
  intermediate STATE messages it writes keep the previous bookmark, and its ``progress_markers`` are
  dropped here so they are never promoted).
- ``emitted`` lists the invoices emitted whose dedupe key is ≥ U - 2 x overlap. The key is
  max(paid_at, the ``invoice.paid`` event's ``created`` when known). The next run re-reads events
  created ≥ U - overlap; an invoice it meets again has key ≥ its event's created ≥ U - overlap, so it is
  in the set and skipped. The second overlap is a guard for invoices emitted by a backfill, whose event
  time is unknown (their paid event may be created a little after ``paid_at``).
- Within a run, duplicates (the same invoice in two events, or in the overlap) are dropped by id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, MutableMapping
from typing import Any

from tap_stripe_billing.sdk_private import SDK_TRANSIENT_STATE_KEYS
from tap_stripe_billing.windows import iso_utc

to_iso = iso_utc  # the bookmark's format is the records' (one rule, in windows.py); older name kept

REPLICATION_KEY = "paid_at"
EMITTED_KEY = "emitted"


def parse_timestamp(value: object) -> int | None:
    """An ISO 8601 date-time (``Z`` or offset; naive = UTC), a date, or unix seconds → unix seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("not a timestamp")
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, dt.datetime):
        moment = value
    else:
        text = str(value).strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp())


def read_bookmark(stream_state: Mapping[str, Any], replication_key: str = REPLICATION_KEY) -> int | None:
    """The previous run's U, or None (no state, or a state for another replication key)."""
    if stream_state.get("replication_key") not in (None, replication_key):
        return None
    return parse_timestamp(stream_state.get("replication_key_value"))


def read_emitted(stream_state: Mapping[str, Any]) -> dict[str, int]:
    """The dedupe set from state: record identity (the invoice id for ``subscription_billed``) → dedupe
    key (unix seconds). Tolerates a dict form."""
    raw = stream_state.get(EMITTED_KEY) or []
    pairs = raw.items() if isinstance(raw, Mapping) else raw
    result: dict[str, int] = {}
    for item in pairs:
        invoice_id, key = item
        result[str(invoice_id)] = int(key)
    return result


def dedupe_key(paid_at: int, event_created: int | None) -> int:
    """max(paid_at, event created)."""
    return paid_at if event_created is None else max(paid_at, int(event_created))


def next_bookmark(previous_bookmark: int | None, upper: int) -> int:
    """The bookmark a complete run writes: its U, never moving back."""
    return upper if previous_bookmark is None else max(previous_bookmark, upper)


def retention_floor(bookmark: int, overlap_seconds: int) -> int:
    """Dedupe entries with a key at or above this are kept for the next run (bookmark - 2 x overlap)."""
    return bookmark - 2 * overlap_seconds


def retained(emitted: Mapping[str, int], new_bookmark: int, overlap_seconds: int) -> list[list[Any]]:
    """The dedupe entries the next run still needs (key ≥ new bookmark - 2 x overlap), sorted."""
    floor = retention_floor(new_bookmark, overlap_seconds)
    return [[invoice_id, key] for invoice_id, key in sorted(emitted.items()) if key >= floor]


def finalize(
    stream_state: MutableMapping[str, Any],
    *,
    previous_bookmark: int | None,
    upper: int,
    emitted: Mapping[str, int],
    overlap_seconds: int,
    replication_key: str = REPLICATION_KEY,
) -> None:
    """Write the end-of-run state in place: bookmark = U (never moving back), pruned dedupe set.

    singer-sdk's progress markers are removed, so its own finalisation (which would promote the largest
    ``paid_at`` emitted) leaves these values alone.
    """
    for key in SDK_TRANSIENT_STATE_KEYS:
        stream_state.pop(key, None)
    new_bookmark = next_bookmark(previous_bookmark, upper)
    stream_state["replication_key"] = replication_key
    stream_state["replication_key_value"] = iso_utc(new_bookmark)
    stream_state[EMITTED_KEY] = retained(emitted, new_bookmark, overlap_seconds)
