"""The exactly-once reading loop every stream of the tap shares.

How a run reads Stripe is decided in ``windows.py``; how the bookmark and the dedupe set make delivery
exactly once across runs is described in ``state.py``. This module wires them to singer-sdk once, for
``subscription_billed`` and the lifecycle streams alike:

- ``is_sorted = False`` (Stripe lists newest first);
- the stream's start (``RunStart``) is fixed once, when singer-sdk first asks for the signpost: the
  run's first request when the stream has one to make anyway, Stripe's clock (the Tap's ``RunClock``,
  read once per run), the read plan; ``get_replication_key_signpost()`` returns its upper bound U
  (now - lag);
- a stream only says what it reads (``read``: candidates in the order Stripe gives them, or the reason
  a payload gives no record); this loop keeps a candidate when its replication time is in the run's
  window and its identity was emitted neither in this run nor in the overlap kept in state, builds the
  record only then, and writes the end-of-run state (bookmark U, dedupe set) after the last record, once
  every read has completed; an exception before that leaves the previous bookmark in place;
- before anything reads the saved state, the state is bound to the key's mode (``state.bind``: another
  mode's state is parked, never applied), and a ``start_date`` earlier than what the state has read adds
  a one-off backfill of exactly the missing range (``state.history_gap``);
- with connected accounts each account is a singer-sdk partition read in turn (``partitioned.py``);
  events and remembered prices are read once per run and account (``shared_reads.py``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from singer_sdk import Tap

from tap_stripe_billing import payload_versions
from tap_stripe_billing.checkpoint import CHECKPOINT_KEY, Checkpoint, Slice, plan_with_checkpoint, recorder
from tap_stripe_billing.client import StripeAPI
from tap_stripe_billing.records import FilterReason
from tap_stripe_billing.run import Run
from tap_stripe_billing.shared_reads import SharedReadsStream
from tap_stripe_billing.state import (
    dedupe_key,
    finalize,
    gap_plan,
    history_gap,
    key_mode,
    next_bookmark,
    read_bookmark,
    read_emitted,
    record_coverage,
    retention_floor,
    to_iso,
)
from tap_stripe_billing.windows import ReadPlan, in_window, plan_read

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

LOGGER = logging.getLogger("tap_stripe_billing")


@dataclass(frozen=True)
class Candidate:
    """A payload that qualifies for a record, if the window and the dedupe set agree.

    ``ident`` is the dedupe identity (usually the primary key); ``at`` the replication time (unix
    seconds); ``observed`` the ``created`` of the event it came from (None: read from a list, see
    ``state.dedupe_key``); ``build`` makes the record (it may make requests, so it runs only for kept
    candidates), or returns the reason there is none when that needs a request to know (a refund whose
    payment paid no subscription invoice).
    """

    ident: str
    at: int
    observed: int | None
    build: Callable[[], dict[str, Any] | str]


@dataclass(frozen=True)
class RunStart:
    """What a stream fixes before it reads anything, in this order: the run's first request
    (``opening``, made only while the run's clock is not read yet), Stripe's "now", the read plan.

    ``requests_before``/``retries_before``: the shared client's counts when the stream started, so the
    stream's run summary counts only its own requests.
    """

    plan: ReadPlan
    previous_bookmark: int | None
    opening: object | None
    requests_before: Mapping[str, int]
    retries_before: Mapping[str, int]
    checkpoint: Checkpoint | None = None  # a first backfill's progress (checkpoint.py)


class ExactlyOnceStream(SharedReadsStream):
    """A Stripe stream with the bookmark-on-Stripe's-clock, overlap and dedupe design of ``state.py``."""

    is_sorted = False
    # A backfill that lists each object once (disjoint slices, Stripe's cursor pagination) needs no
    # per-run set of what it emitted: at 100,000 invoices that set was the tap's largest growing object.
    unique_in_backfill = False

    def __init__(self, tap: Tap, run: Run) -> None:
        super().__init__(tap, run)
        self.summary: dict[str, Any] = {}
        # Told of each completed slice of the run's first backfill (set by ``get_records``).
        self.on_slice_done: Callable[[Slice], None] | None = None
        # Single fetches that completed event payloads of older API versions (payload_versions.py).
        self.payload_fetches: Counter[str] = Counter()

    # -- what a stream says -------------------------------------------------------------------------
    def open_run(self, api: StripeAPI, bookmark: int | None) -> object | None:
        """Make the run's first Stripe request, before Stripe's clock is known, when the stream knows one
        its own. The answer is handed to ``read`` as ``opening``. By default, with a bookmark: the first
        page of the run's shared events read (``events_feed.py``); else none (the clock probes)."""
        if bookmark is not None and self.event_types:
            self.feed()
        return None

    def read(self, api: StripeAPI, plan: ReadPlan, opening: object | None) -> Iterator[Candidate | str]:
        """Candidates (or filter reasons, counted in the run summary) in the order Stripe gives them."""
        raise NotImplementedError

    @property
    def start(self) -> RunStart:
        """The stream's start, fixed on first use: singer-sdk's first question in ``sync`` (the signpost)."""
        if self._start is None:
            self._start = self._begin()
        return self._start

    def _begin(self) -> RunStart:
        assert self.replication_key is not None
        api, clock = self.api, self.run.clock
        requests_before, retries_before = api.request_summary(), dict(api.retries)
        self.bind_state()
        bookmark = read_bookmark(self.stream_state, self.replication_key)
        opening = None if clock.is_read else self.open_run(api, bookmark)
        plan, checkpoint = plan_with_checkpoint(
            self.stream_state,
            bookmark,
            self.settings.start_date,
            lambda upper: plan_read(
                now=clock.now(),
                bookmark=bookmark,
                start_date=self.settings.start_date,
                settings=self.window_settings,
                upper=upper,
            ),
        )
        return RunStart(plan, bookmark, opening, requests_before, retries_before, checkpoint)

    def get_replication_key_signpost(self, context: Context | None = None) -> dt.datetime | None:
        """The bookmark never goes past U (the stream writes exactly U at the end). With connected accounts
        singer-sdk asks once for the whole stream, before any account: there is none then (each account's
        state is written whole by ``finalize``)."""
        if self.settings.connected and self._account is None:
            return None
        return dt.datetime.fromtimestamp(self.start.plan.upper, tz=dt.timezone.utc)

    def log_sync_costs(self) -> None:
        """singer-sdk calls this for every stream once all have synced: the last one logs the run's one
        line about the API versions of the account's events (payload_versions.py)."""
        super().log_sync_costs()
        if self is list(self._tap.streams.values())[-1]:
            payload_versions.log_run(self._tap)

    def _write_checkpoint(self) -> None:
        """A STATE message now (singer-sdk's private writer; see sdk_private.py): a slice is complete."""
        self.state_manager.is_flushed = False
        self._write_state_message()

    # -- the loop ---------------------------------------------------------------------------------------
    def _records(self) -> Iterator[dict[str, Any]]:
        """Read, window, dedupe and build records; write the end-of-run state after the last one."""
        assert self.replication_key is not None
        start = self.start
        settings = self.window_settings
        state = self.stream_state
        plan, previous_bookmark = start.plan, start.previous_bookmark
        previously_emitted = read_emitted(state) if previous_bookmark is not None else {}
        LOGGER.info(
            "%s: reading Stripe in %s mode: created/event window [%s, %s)",
            self.name,
            plan.mode,
            plan.created_gte,
            plan.upper,
        )
        start_date = self.settings.start_date
        plans = [(plan, start.opening)]
        gap = history_gap(state, start_date)
        if gap is not None:  # start_date moved earlier than what the state has read: read that once
            plans.append((gap_plan(gap, settings), None))
            LOGGER.warning(
                "%s: start_date is earlier than the history already read: reading paid times [%s, %s) once",
                self.name,
                "the beginning" if gap[0] is None else to_iso(gap[0]),
                to_iso(gap[1]),
            )
        live = key_mode(self.settings.api_key) == "live"
        marks_mode = "livemode" in (self.schema.get("properties") or {})
        api = self.api
        filtered: Counter[str] = Counter()
        emitted = dict(previously_emitted)
        # Only entries the end-of-run state keeps are collected, so memory does not grow with the run.
        keep_from = retention_floor(next_bookmark(previous_bookmark, plan.upper), settings.overlap)
        this_run: set[str] = set()
        track = not (plan.mode == "backfill" and self.unique_in_backfill and len(plans) == 1)
        count = 0
        if start.checkpoint is not None:
            emitted.update(start.checkpoint.emitted)  # the dedupe entries of slices done before
            self.on_slice_done = recorder(
                start.checkpoint, state, emitted, keep_from, self._write_checkpoint, pacer=self.run.pacer
            )

        for read_plan, item in ((p, i) for p, opening in plans for i in self.read(api, p, opening)):
            if isinstance(item, str):
                filtered[item] += 1
                continue
            reason: str | None = None
            if not in_window(item.at, read_plan):
                starts_late = read_plan.start_date is not None and item.at < read_plan.start_date
                reason = FilterReason.BEFORE_START_DATE if starts_late else FilterReason.OUT_OF_WINDOW
            elif item.ident in this_run:
                reason = FilterReason.DUPLICATE
            elif item.ident in previously_emitted:
                reason = FilterReason.ALREADY_EMITTED
            if reason is not None:
                filtered[reason] += 1
                continue
            record = item.build()
            if isinstance(record, str):
                filtered[record] += 1
                continue
            if marks_mode:
                record.setdefault("livemode", live)  # objects a key reads are of the key's mode
            record["account_id"] = self._record_account
            if track:
                this_run.add(item.ident)
            key = dedupe_key(item.at, item.observed)
            if key >= keep_from:
                emitted[item.ident] = key
            count += 1
            yield record

        # Every read completed: only now may the bookmark move.
        state.pop(CHECKPOINT_KEY, None)
        finalize(
            state,
            previous_bookmark=previous_bookmark,
            upper=plan.upper,
            emitted=emitted,
            overlap_seconds=settings.overlap,
            replication_key=self.replication_key,
        )
        record_coverage(state, had_bookmark=previous_bookmark is not None, start_date=start_date)
        self.summary = {
            "mode": plan.mode,
            "requests": _since(start.requests_before, api.request_summary()),
            "retries": _since(start.retries_before, dict(api.retries)),
            "records_emitted": count,
            "filtered_out": dict(sorted(filtered.items())),
            "payload_fetches": dict(sorted(self.payload_fetches.items())),
        }
        LOGGER.info(
            "%s: run summary: mode=%s requests=%s retries=%s records_emitted=%d filtered_out=%s"
            " payload_fetches=%s",
            self.name,
            plan.mode,
            self.summary["requests"],
            self.summary["retries"],
            count,
            self.summary["filtered_out"],
            self.summary["payload_fetches"],
        )


def _since(before: Mapping[str, int], now: Mapping[str, int]) -> dict[str, int]:
    """The counts added since ``before``, by endpoint (endpoints with none left out)."""
    return {key: now[key] - before.get(key, 0) for key in sorted(now) if now[key] - before.get(key, 0)}
