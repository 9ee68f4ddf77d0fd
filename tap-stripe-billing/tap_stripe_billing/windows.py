"""Read windows: which Stripe listing a run reads, and which paid invoices it keeps. Pure functions.

Let U = now - lag (exclusive upper bound: the last few minutes are never read, because Stripe's lists
and events are eventually consistent). B is the stream bookmark from the previous run (that run's U).

- **Backfill** (first run, or B older than ``stale_after_days`` = 29 days, because events are only kept
  30 days): list ``GET /v1/invoices?status=paid&created[gte]=L-slack&created[lt]=U`` and keep invoices
  with ``L ≤ paid_at < U``, where L = start_date (first run; none = whole history) or B - overlap
  (stale state). ``created`` is the only time filter Stripe offers on invoices, and an invoice is often
  paid long after it was created (retries, ``send_invoice`` terms): the slack (``created_slack_days``,
  default 62: Stripe's longest Smart Retries schedule is 2 months) brings those in. An invoice created
  more than the slack before L but paid after L is the one case this mode cannot see.
- **Incremental**: ``GET /v1/events?types[]=invoice.paid&created[gte]=B-overlap&created[lt]=U``. The
  overlap re-reads events that became visible late with an earlier ``created``; what was already
  emitted is skipped by the dedupe set kept in state (see ``state.py``).

Both modes also drop invoices paid before ``start_date``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

MINUTE = 60
DAY = 86_400

Mode = Literal["backfill", "incremental"]


@dataclass(frozen=True)
class WindowSettings:
    """Timing settings (seconds are derived from the tap's minute/day settings)."""

    lag_minutes: int = 5
    overlap_minutes: int = 60
    created_slack_days: int = 62
    stale_after_days: int = 29

    @property
    def lag(self) -> int:
        return self.lag_minutes * MINUTE

    @property
    def overlap(self) -> int:
        return self.overlap_minutes * MINUTE

    @property
    def slack(self) -> int:
        return self.created_slack_days * DAY


@dataclass(frozen=True)
class ReadPlan:
    """What one run reads. All times are unix seconds; ``upper`` is exclusive."""

    mode: Mode
    upper: int
    created_gte: int | None  # lower bound on invoice/event ``created`` (None: whole history)
    paid_from: int | None  # backfill keeps paid_at >= paid_from (None: no lower bound)
    start_date: int | None  # never emit paid_at < start_date

    @property
    def empty(self) -> bool:
        """Nothing can be read (the lower bound is not below U)."""
        return self.created_gte is not None and self.created_gte >= self.upper


def iso_utc(epoch_seconds: int | None) -> str | None:
    """Unix seconds → ISO 8601 UTC (``2024-05-01T12:00:00+00:00``): records and bookmarks alike."""
    if epoch_seconds is None:
        return None
    return dt.datetime.fromtimestamp(int(epoch_seconds), tz=dt.timezone.utc).isoformat()


def upper_bound(now: int, settings: WindowSettings) -> int:
    """U = now - lag."""
    return now - settings.lag


def plan_read(
    *,
    now: int,
    bookmark: int | None,
    start_date: int | None,
    settings: WindowSettings,
    upper: int | None = None,
) -> ReadPlan:
    """Choose the mode and bounds for this run."""
    u = upper if upper is not None else upper_bound(now, settings)
    if bookmark is not None and bookmark > now - settings.stale_after_days * DAY:
        lower = bookmark - settings.overlap
        return ReadPlan("incremental", u, lower, None, start_date)
    if bookmark is None:
        paid_from = start_date
    else:
        paid_from = bookmark - settings.overlap
        if start_date is not None:
            paid_from = max(paid_from, start_date)
    created_gte = paid_from - settings.slack if paid_from is not None else None
    return ReadPlan("backfill", u, created_gte, paid_from, start_date)


def in_window(paid_at: int, plan: ReadPlan) -> bool:
    """Backfill keeps ``paid_from ≤ paid_at < U``; incremental keeps every paid event it reads (its
    window is on event ``created``) except invoices paid before ``start_date``."""
    if plan.start_date is not None and paid_at < plan.start_date:
        return False
    if plan.mode == "backfill":
        if plan.paid_from is not None and paid_at < plan.paid_from:
            return False
        return paid_at < plan.upper
    return True


def time_slices(gte: int, lt: int, parts: int) -> list[tuple[int, int]]:
    """Split ``[gte, lt)`` into up to ``parts`` contiguous, disjoint, non-empty slices (newest first)."""
    span = lt - gte
    if span <= 0:
        return []
    parts = max(1, min(parts, span))
    edges = [gte + span * i // parts for i in range(parts + 1)]
    slices = [(edges[i], edges[i + 1]) for i in range(parts) if edges[i] < edges[i + 1]]
    return list(reversed(slices))
