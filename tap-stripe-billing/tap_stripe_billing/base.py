"""The exactly-once reading loop every stream of the tap shares.

How a run reads Stripe is decided in ``windows.py``; how the bookmark and the dedupe set make delivery
exactly once across runs is described in ``state.py``. This module wires them to singer-sdk once, for
``subscription_billed`` and the lifecycle streams alike:

- ``is_sorted = False`` (Stripe lists newest first);
- ``get_replication_key_signpost()`` returns the run's upper bound U (now - lag, on Stripe's clock),
  computed once;
- a stream only says what it reads (``read``: candidates in the order Stripe gives them, or the reason
  a payload gives no record); this loop keeps a candidate when its replication time is in the run's
  window and its identity was emitted neither in this run nor in the overlap kept in state, builds the
  record only then, and writes the end-of-run state (bookmark U, dedupe set) after the last record, once
  every read has completed; an exception before that leaves the previous bookmark in place;
- before anything reads the saved state, the state is bound to the key's mode (``state.bind``: another
  mode's state is parked, never applied), and a ``start_date`` earlier than what the state has read adds
  a one-off backfill of exactly the missing range (``state.history_gap``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from singer_sdk import Stream

from tap_stripe_billing.client import StripeAPI
from tap_stripe_billing.records import FilterReason
from tap_stripe_billing.state import (
    bind,
    binding_for,
    dedupe_key,
    finalize,
    gap_plan,
    history_gap,
    key_mode,
    next_bookmark,
    parse_timestamp,
    read_bookmark,
    read_emitted,
    record_coverage,
    retention_floor,
    to_iso,
)
from tap_stripe_billing.windows import ReadPlan, WindowSettings, in_window, plan_read, upper_bound

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


class ExactlyOnceStream(Stream):
    """A Stripe stream with the bookmark-on-Stripe's-clock, overlap and dedupe design of ``state.py``."""

    is_sorted = False
    # Lists whose ``created`` is the replication time need no slack (only invoices are paid late).
    uses_created_slack = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._upper: int | None = None
        self._now: int | None = None
        self._api: StripeAPI | None = None
        self._bound = False
        self.summary: dict[str, Any] = {}

    # -- what a stream says -------------------------------------------------------------------------
    def read(self, api: StripeAPI, plan: ReadPlan) -> Iterator[Candidate | str]:
        """Candidates (or filter reasons, counted in the run summary) in the order Stripe gives them."""
        raise NotImplementedError

    # -- settings -------------------------------------------------------------------------------------
    @property
    def window_settings(self) -> WindowSettings:
        return WindowSettings(
            lag_minutes=int(self.config.get("lag_minutes", 5)),
            overlap_minutes=int(self.config.get("overlap_minutes", 60)),
            created_slack_days=int(self.config.get("created_slack_days", 62))
            if self.uses_created_slack
            else 0,
        )

    def first_request(self) -> None:
        """Make the run's first Stripe request, so that its ``Date`` header gives Stripe's clock.

        A stream that knows a request its run makes anyway makes it here (and keeps the answer for
        ``read``), so the clock costs no request of its own; by default, the clock probe.
        """
        self.api.clock()

    def now(self) -> int:
        """Stripe's clock (its Date header), read once per run and shared by the tap's streams (an older
        "now" only makes a later stream read less this run): see ``StripeAPI.clock``."""
        if self._now is None:
            shared = getattr(self._tap, "stripe_now", None)
            if shared is None:
                self.first_request()
                shared = self.api.clock()  # no request when the first one carried a Date header
                self._tap.stripe_now = shared  # type: ignore[attr-defined]
            self._now = int(shared)
        return self._now

    @property
    def upper(self) -> int:
        """U = now - lag, frozen for the run."""
        if self._upper is None:
            self._upper = upper_bound(self.now(), self.window_settings)
        return self._upper

    def get_replication_key_signpost(self, context: Context | None = None) -> dt.datetime | None:
        """The bookmark never goes past U (the stream writes exactly U at the end)."""
        self.bind_state()
        return dt.datetime.fromtimestamp(self.upper, tz=dt.timezone.utc)

    @property
    def api(self) -> StripeAPI:
        """One Stripe reader per stream and run (its request counts make the run summary)."""
        if self._api is None:
            self._api = self.build_api()
        return self._api

    def build_api(self) -> StripeAPI:
        return StripeAPI(
            str(self.config["api_key"]),
            str(self.config.get("api_url") or "https://api.stripe.com"),
            max_requests_per_second=float(self.config.get("max_requests_per_second", 20)),
            backoff_base=float(self.config.get("backoff_base_seconds", 0.5)),
        )

    @property
    def allow_test_mode(self) -> bool:
        return bool(self.config.get("allow_test_mode", False))

    # -- the loop ---------------------------------------------------------------------------------------
    def bind_state(self) -> None:
        """Make the saved state this key's own (``state.bind``), once, before anything reads it: singer-sdk
        asks for the signpost (so for U, so for the first request, which reads the bookmark) first."""
        if self._bound:
            return
        self._bound = True
        switched = bind(self.stream_state, binding_for(self.config))
        if switched:
            LOGGER.warning("%s: %s", self.name, switched)

    def read_events(
        self, api: StripeAPI, types: list[str], gte: int | None, lt: int
    ) -> Iterator[dict[str, Any]]:
        """``GET /v1/events`` of the given types with ``gte ≤ created < lt``, newest first."""
        params: list[tuple[str, Any]] = [("types[]", t) for t in types]
        if gte is not None:
            params.append(("created[gte]", gte))
        params.extend([("created[lt]", lt), ("limit", 100)])
        for event in api.list_all("/v1/events", params):
            if event.get("type") in types:
                yield event

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Read, window, dedupe and build records; write the end-of-run state after the last one."""
        assert self.replication_key is not None
        self.bind_state()
        settings = self.window_settings
        state = self.stream_state
        previous_bookmark = read_bookmark(state, self.replication_key)
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
            "%s: reading Stripe in %s mode: created/event window [%s, %s)",
            self.name,
            plan.mode,
            plan.created_gte,
            plan.upper,
        )
        plans = [plan]
        gap = history_gap(state, start_date)
        if gap is not None:  # start_date moved earlier than what the state has read: read that once
            plans.append(gap_plan(gap, settings))
            LOGGER.warning(
                "%s: start_date is earlier than the history already read: reading paid times [%s, %s) once",
                self.name,
                "the beginning" if gap[0] is None else to_iso(gap[0]),
                to_iso(gap[1]),
            )
        live = key_mode(self.config.get("api_key")) == "live"
        marks_mode = "livemode" in (self.schema.get("properties") or {})
        api = self.api
        filtered: Counter[str] = Counter()
        emitted = dict(previously_emitted)
        # Only entries the end-of-run state keeps are collected, so memory does not grow with the run.
        keep_from = retention_floor(next_bookmark(previous_bookmark, plan.upper), settings.overlap)
        this_run: set[str] = set()
        count = 0

        for read_plan, item in ((p, i) for p in plans for i in self.read(api, p)):
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
            this_run.add(item.ident)
            key = dedupe_key(item.at, item.observed)
            if key >= keep_from:
                emitted[item.ident] = key
            count += 1
            yield record

        # Every read completed: only now may the bookmark move.
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
            "requests": api.request_summary(),
            "retries": dict(api.retries),
            "records_emitted": count,
            "filtered_out": dict(sorted(filtered.items())),
        }
        LOGGER.info(
            "%s: run summary: mode=%s requests=%s retries=%s records_emitted=%d filtered_out=%s",
            self.name,
            plan.mode,
            self.summary["requests"],
            self.summary["retries"],
            count,
            self.summary["filtered_out"],
        )
