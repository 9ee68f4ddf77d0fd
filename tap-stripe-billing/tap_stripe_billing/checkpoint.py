"""Backfill checkpoints: a first backfill that is killed resumes with the slices it had not finished.

A first run reads the paid-invoice list in ``created`` time slices (``backfill.py``). Each time a slice
has been read to its end, and every record of it written, the stream records it in its state and writes
a STATE message; the target prints that STATE only once everything before it was delivered, and Meltano
keeps the last one even when the run fails. So the state of a killed run says which slices were
delivered::

    "backfill_progress": {"upper": "<U, ISO>", "created_gte": "<ISO>" | null,
                          "start_date": "<ISO>" | null, "done": [["<ISO>" | null, "<ISO>"], …],
                          "emitted": [["in_…", <dedupe key>], …]}

The next run (still without a bookmark) finishes *that* backfill: same upper bound U, same window, only
the created ranges not in ``done`` (so an invoice paid late, after U, is left to the next incremental run
as usual), and ends with the bookmark U. Completed slices are merged into ranges, and ``emitted`` keeps
only the dedupe entries the end-of-run state would keep (``state.retained``): the state stays small.
A checkpoint for another ``start_date`` is ignored (the backfill starts over; the journal stops
re-sends). Records of a slice that was cut short are read again: the target's journal skips those it
already delivered.

Each STATE holds the whole tap state: with many connected accounts, every account's partitions. Writing
one after every slice made a first run over hundreds of accounts cost slices x accounts, so a run writes a
checkpoint STATE at most every ``checkpoint_interval_seconds`` (:class:`CheckpointPacer`, one per run,
shared by every stream and account): a killed run re-reads at most that long of slices. Slices completed
in between are still recorded in the stream state, and go out with the next STATE of any kind.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from tap_stripe_billing.oldest import STRIPE_EPOCH
from tap_stripe_billing.state import parse_timestamp, read_emitted, to_iso
from tap_stripe_billing.windows import ReadPlan, time_slices

CHECKPOINT_KEY = "backfill_progress"
Slice = tuple[int | None, int]


def merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, with touching or overlapping ranges joined."""
    out: list[tuple[int, int]] = []
    for gte, lt in sorted(ranges):
        if out and gte <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], lt))
        else:
            out.append((gte, lt))
    return out


def remaining(gte: int | None, lt: int, done: list[tuple[int, int]], parts: int) -> list[Slice]:
    """``[gte, lt)`` less the ``done`` ranges, cut into about ``parts`` slices by length (each gap at
    least one), newest first. ``gte`` None (whole history): the oldest slice has no lower bound."""
    low = 0 if gte is None else gte
    gaps: list[tuple[int, int]] = []
    cursor = low
    for start, end in merged(done):
        if start > cursor:
            gaps.append((cursor, min(start, lt)))
        cursor = max(cursor, end)
    if cursor < lt:
        gaps.append((cursor, lt))
    gaps = [(a, b) for a, b in gaps if a < b]
    # Splitting measures time from Stripe's first day: nothing was created before it.
    measured = [(max(a, STRIPE_EPOCH) if a == 0 else a, b) for a, b in gaps]
    total = sum(max(1, b - a) for a, b in measured) or 1
    slices: list[Slice] = []
    for (start, end), (measured_start, _) in zip(gaps, measured, strict=True):
        count = max(1, round(parts * max(1, end - measured_start) / total))
        cut = time_slices(measured_start, end, count) if measured_start < end else [(start, end)]
        slices += [(None if s == measured_start and start == 0 else s, e) for s, e in cut]
    return sorted(slices, key=lambda s: s[1], reverse=True)


@dataclass
class Checkpoint:
    """The progress of one first backfill (see the module docstring)."""

    upper: int
    created_gte: int | None
    start_date: int | None
    done: list[tuple[int, int]] = field(default_factory=list)
    emitted: dict[str, int] = field(default_factory=dict)

    @property
    def resuming(self) -> bool:
        return bool(self.done)

    @classmethod
    def load(cls, stream_state: Mapping[str, Any], start_date: int | None) -> Checkpoint | None:
        """The checkpoint of an unfinished backfill for this ``start_date``, or None."""
        raw = stream_state.get(CHECKPOINT_KEY)
        if not isinstance(raw, Mapping) or stream_state.get("replication_key_value") is not None:
            return None
        try:
            upper = parse_timestamp(raw.get("upper"))
            if upper is None or parse_timestamp(raw.get("start_date")) != start_date:
                return None
            done = [(parse_timestamp(a) or 0, int(parse_timestamp(b) or 0)) for a, b in raw.get("done") or []]
            return cls(
                upper, parse_timestamp(raw.get("created_gte")), start_date, merged(done), read_emitted(raw)
            )
        except (TypeError, ValueError):
            return None  # not ours to understand: start over

    def matches(self, plan: ReadPlan) -> bool:
        return plan.mode == "backfill" and plan.upper == self.upper and plan.created_gte == self.created_gte

    def complete(self, slice_: Slice) -> None:
        self.done = merged([*self.done, (slice_[0] or 0, slice_[1])])

    def save(
        self, stream_state: MutableMapping[str, Any], emitted: Mapping[str, int], keep_from: int
    ) -> None:
        kept = {ident: key for ident, key in emitted.items() if key >= keep_from}
        stream_state[CHECKPOINT_KEY] = {
            "upper": to_iso(self.upper),
            "created_gte": to_iso(self.created_gte),
            "start_date": to_iso(self.start_date),
            "done": [[to_iso(a) if a else None, to_iso(b)] for a, b in self.done],
            "emitted": [[ident, key] for ident, key in sorted(kept.items())],
        }


def plan_with_checkpoint(
    stream_state: Mapping[str, Any],
    bookmark: int | None,
    start_date: int | None,
    make_plan: Callable[[int | None], ReadPlan],
) -> tuple[ReadPlan, Checkpoint | None]:
    """The run's plan (``make_plan(upper)``; None: now - lag) and its checkpoint: a first backfill
    resumes its saved checkpoint (same upper bound) or starts a new one; other runs have none."""
    checkpoint = Checkpoint.load(stream_state, start_date) if bookmark is None else None
    plan = make_plan(checkpoint.upper if checkpoint is not None else None)
    if checkpoint is not None and not checkpoint.matches(plan):  # another window: start over
        checkpoint, plan = None, make_plan(None)
    if checkpoint is None and bookmark is None and plan.mode == "backfill":
        checkpoint = Checkpoint(plan.upper, plan.created_gte, start_date)
    return plan, checkpoint


@dataclass
class CheckpointPacer:
    """When a run may write its next checkpoint STATE: ``interval`` seconds after the last one (0: after
    every slice). The first is due ``interval`` seconds after the pacer was made (the run's start)."""

    interval: float
    clock: Callable[[], float] = time.monotonic
    last: float = field(init=False)

    def __post_init__(self) -> None:
        self.last = self.clock()

    def due(self) -> bool:
        """True (and the time noted) when a checkpoint STATE may be written now."""
        now = self.clock()
        if now - self.last < self.interval:
            return False
        self.last = now
        return True


def recorder(
    checkpoint: Checkpoint,
    stream_state: MutableMapping[str, Any],
    emitted: Mapping[str, int],
    keep_from: int,
    write_state: Callable[[], None],
    *,
    pacer: CheckpointPacer,
) -> Callable[[Slice], None]:
    """What a backfill calls when a slice is complete (after its last record was written): the slice goes
    into the stream state at once, and a STATE out when ``pacer`` says one is due."""

    def on_slice_done(slice_: Slice) -> None:
        checkpoint.complete(slice_)
        checkpoint.save(stream_state, emitted, keep_from)
        if pacer.due():
            write_state()

    return on_slice_done
