"""Backfill checkpoints on their own: completed ranges merge, the rest is cut into slices that cover
exactly what is missing, and a checkpoint is only used for the backfill it belongs to."""

from __future__ import annotations

from typing import Any

from tap_stripe_billing.checkpoint import CHECKPOINT_KEY, Checkpoint, merged, remaining
from tap_stripe_billing.oldest import STRIPE_EPOCH
from tap_stripe_billing.windows import ReadPlan


def covered(slices: list[tuple[int | None, int]]) -> list[tuple[int, int]]:
    return merged([(a or 0, b) for a, b in slices])


def test_completed_ranges_merge_when_they_touch_or_overlap() -> None:
    assert merged([(30, 40), (0, 10), (10, 20), (35, 50)]) == [(0, 20), (30, 50)]
    assert merged([]) == []


def test_the_rest_is_exactly_what_is_not_done_newest_first() -> None:
    rest = remaining(1000, 2000, [(1200, 1500), (1800, 2000)], parts=6)
    assert covered(rest) == [(1000, 1200), (1500, 1800)]
    assert [b for _, b in rest] == sorted((b for _, b in rest), reverse=True)
    assert len(rest) >= 2 and all(a is not None and a < b for a, b in rest)
    assert remaining(1000, 2000, [(900, 2100)], parts=6) == []
    assert covered(remaining(1000, 2000, [], parts=4)) == [(1000, 2000)]


def test_a_whole_history_rest_keeps_no_lower_bound() -> None:
    upper = STRIPE_EPOCH + 10_000_000
    rest = remaining(None, upper, [(upper - 1_000_000, upper)], parts=6)
    assert rest[-1][0] is None, "the oldest slice reaches back to the beginning"
    assert covered(rest) == [(0, upper - 1_000_000)]


def test_a_checkpoint_round_trips_and_belongs_to_one_backfill() -> None:
    point = Checkpoint(upper=2_000_000_000, created_gte=1_900_000_000, start_date=1_905_000_000)
    point.complete((1_950_000_000, 2_000_000_000))
    point.complete((1_900_000_000, 1_950_000_000))
    state: dict[str, Any] = {}
    point.save(state, {"in_old": 1_000, "in_new": 1_999_999_000}, keep_from=1_999_000_000)
    assert state[CHECKPOINT_KEY]["emitted"] == [["in_new", 1_999_999_000]], "only what the end state keeps"
    assert len(state[CHECKPOINT_KEY]["done"]) == 1, "contiguous slices are stored as one range"
    loaded = Checkpoint.load(state, start_date=1_905_000_000)
    assert loaded is not None and loaded.done == [(1_900_000_000, 2_000_000_000)]
    assert loaded.emitted == {"in_new": 1_999_999_000} and loaded.resuming
    assert loaded.matches(ReadPlan("backfill", 2_000_000_000, 1_900_000_000, 1_905_000_000, 1_905_000_000))
    assert not loaded.matches(ReadPlan("backfill", 2_000_000_001, 1_900_000_000, None, None))
    assert Checkpoint.load(state, start_date=None) is None, "another start_date: start over"
    assert Checkpoint.load({**state, "replication_key_value": "2030-01-01T00:00:00Z"}, 1_905_000_000) is None
    assert Checkpoint.load({CHECKPOINT_KEY: {"upper": "not a time"}}, None) is None
