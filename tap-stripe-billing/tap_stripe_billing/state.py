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
from tap_stripe_billing.windows import ReadPlan, WindowSettings, iso_utc

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


# -- what a state belongs to, and what it covers ------------------------------------------------------------
# Besides the bookmark, each stream state records (see README "Operating it"):
#
#     "binding": {"stripe_mode": "live"},   # what the state was built for; never applied to anything else
#     "covered_from": "<ISO>" | null,       # earliest paid time this state has read from (null: all history)
#     "parked": {"stripe_mode=test": {...}} # the stream state of another binding, kept for when it returns
#
# Both are decided from the configuration alone (the key's prefix gives the mode), so checking them costs
# no request. The binding is a set of named fields so that the Stripe account can join it later (SPEC §6:
# the key's own account, looked up once and kept): a field is compared only when both the state and the
# run know it, and a field the state lacks is adopted. A state written before bindings existed is
# adopted as it is (it belongs to the key that reads it), and its coverage is taken to be the current
# start_date.
BINDING_KEY = "binding"
COVERED_FROM_KEY = "covered_from"
PARKED_KEY = "parked"
TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")


def key_mode(api_key: object) -> str:
    """``test`` for a test-mode key (``sk_test_``/``rk_test_``), else ``live``."""
    return "test" if str(api_key or "").strip().startswith(TEST_KEY_PREFIXES) else "live"


def binding_for(config: Mapping[str, Any]) -> dict[str, str]:
    """What a stream state read with this configuration belongs to."""
    return {"stripe_mode": key_mode(config.get("api_key"))}


def binding_name(binding: Mapping[str, Any]) -> str:
    """``stripe_mode=test``: the name a parked state is kept under."""
    return ",".join(f"{name}={binding[name]}" for name in sorted(binding))


def bind(stream_state: MutableMapping[str, Any], binding: Mapping[str, str]) -> str | None:
    """Make ``stream_state`` (in place) the state of ``binding``.

    Same binding (or none recorded): nothing changes but the binding is recorded. Another binding: the
    state is parked under that binding's name and this binding's parked state (or a fresh one, which
    reads from start_date) takes its place. Returns a line saying so, else None.
    """
    recorded = stream_state.get(BINDING_KEY)
    recorded = dict(recorded) if isinstance(recorded, Mapping) else {}
    conflicts = sorted(n for n in binding if n in recorded and recorded[n] != binding[n])
    if not conflicts:
        stream_state[BINDING_KEY] = {**recorded, **binding}
        return None
    parked = dict(stream_state.get(PARKED_KEY) or {})
    current = {k: v for k, v in stream_state.items() if k not in (BINDING_KEY, PARKED_KEY)}
    if current:
        parked[binding_name(recorded)] = current
    restored = parked.pop(binding_name(binding), None)
    stream_state.clear()
    if isinstance(restored, Mapping):
        stream_state.update(restored)
    stream_state[BINDING_KEY] = dict(binding)
    if parked:
        stream_state[PARKED_KEY] = parked
    what = ", ".join(f"{n} {recorded[n]} -> {binding[n]}" for n in conflicts)
    resumed = "resuming its own earlier state" if restored else "reading from start_date"
    return f"the saved state belongs to another Stripe key ({what}): kept aside, {resumed}"


def covered_from(stream_state: Mapping[str, Any]) -> tuple[bool, int | None]:
    """(known, earliest paid time covered; None = the whole history)."""
    if COVERED_FROM_KEY not in stream_state:
        return False, None
    return True, parse_timestamp(stream_state[COVERED_FROM_KEY])


def history_gap(stream_state: Mapping[str, Any], start_date: int | None) -> tuple[int | None, int] | None:
    """``(from, before)``: history that ``start_date`` now asks for and the state has never read (it
    was moved earlier, or removed), or None. Only for a state with a bookmark: a fresh state reads from
    start_date anyway."""
    if stream_state.get("replication_key_value") is None:
        return None
    known, covered = covered_from(stream_state)
    if not known or covered is None:
        return None
    if start_date is not None and start_date >= covered:
        return None
    return start_date, covered


def record_coverage(
    stream_state: MutableMapping[str, Any], *, had_bookmark: bool, start_date: int | None
) -> None:
    """After a complete run: the state now covers from ``start_date``, or from earlier if it already did
    (a start_date moved later reads nothing new, and moving it back again needs no second backfill)."""
    known, covered = covered_from(stream_state)
    if had_bookmark and known and (covered is None or (start_date is not None and covered < start_date)):
        value = covered
    else:
        value = start_date
    stream_state[COVERED_FROM_KEY] = None if value is None else to_iso(value)


def gap_plan(gap: tuple[int | None, int], settings: WindowSettings) -> ReadPlan:
    """A backfill of exactly ``[from, before)`` in paid time (see ``history_gap``)."""
    paid_from, before = gap
    created_gte = paid_from - settings.slack if paid_from is not None else None
    return ReadPlan("backfill", before, created_gte, paid_from, paid_from)
