"""Checkpoint STATEs are paced by time, not written after every slice (``checkpoint.py``).

Each STATE holds every account's partitions, so one per completed slice made a first run over many
connected accounts cost slices x accounts. A run writes one at most every ``checkpoint_interval_seconds``;
the slices completed in between are still in the stream state, and go out with the next STATE.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from tap_stripe_billing.checkpoint import CHECKPOINT_KEY, Checkpoint, CheckpointPacer, recorder
from tap_stripe_billing.errors import ConfigError
from tap_stripe_billing.settings import Settings
from tap_stripe_billing.windows import iso_utc

from stand_ins.stripe import LIVE_KEY, AccountConfig, StripeStandIn, generate_account
from tests.tap.harness import run_tap

DAY = 86_400


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_checkpoint_is_due_once_per_interval_from_the_start_of_the_run() -> None:
    clock = FakeClock()
    pacer = CheckpointPacer(60, clock)
    due = []
    for at in (0, 59.9, 60, 61, 119, 120.5, 500):
        clock.now = 1000.0 + at
        due.append(pacer.due())
    assert due == [False, False, True, False, False, True, True]


def test_interval_zero_writes_after_every_slice() -> None:
    pacer = CheckpointPacer(0, FakeClock())
    assert all(pacer.due() for _ in range(5))


def test_a_slice_is_in_the_state_at_once_and_written_only_when_due() -> None:
    clock = FakeClock()
    state: dict[str, Any] = {}
    writes: list[list[Any]] = []
    on_done = recorder(
        Checkpoint(upper=10_000, created_gte=None, start_date=None),
        state,
        {},
        0,
        lambda: writes.append(list(state[CHECKPOINT_KEY]["done"])),
        pacer=CheckpointPacer(60, clock),
    )
    on_done((5_000, 10_000))
    assert state[CHECKPOINT_KEY]["done"] == [["1970-01-01T01:23:20+00:00", "1970-01-01T02:46:40+00:00"]]
    assert writes == [], "no STATE before the interval has passed"
    clock.now += 61
    on_done((1_000, 5_000))
    assert writes == [[["1970-01-01T00:16:40+00:00", "1970-01-01T02:46:40+00:00"]]], "both slices, merged"


@pytest.mark.parametrize("value", [-1, "soon"])
def test_a_bad_interval_is_one_clear_error(value: object) -> None:
    with pytest.raises(ConfigError, match="checkpoint_interval_seconds"):
        Settings.from_config({"api_key": LIVE_KEY, "checkpoint_interval_seconds": value})


@pytest.fixture(scope="module")
def server() -> Iterator[StripeStandIn]:
    platform = generate_account(AccountConfig(seed=5, invoices=10, history_days=60, horizon_days=10))
    with StripeStandIn(platform) as srv:
        srv.connect(4, invoices=400)
        yield srv


def checkpoint_states(states: list[dict[str, Any]]) -> int:
    return sum(CHECKPOINT_KEY in json.dumps(state) for state in states)


def test_over_many_accounts_checkpoints_follow_the_clock_not_the_slices(server: StripeStandIn) -> None:
    config = {
        "api_key": LIVE_KEY,
        "api_url": server.url,
        "start_date": iso_utc(server.account.now - 60 * DAY),
        "max_requests_per_second": 1000,
        "max_requests_per_second_per_endpoint": 1000,
        "backoff_base_seconds": 0,
        "all_connected_accounts": True,
        "backfill_parallelism": 3,
    }
    every_slice = run_tap({**config, "checkpoint_interval_seconds": 0})
    paced = run_tap({**config, "checkpoint_interval_seconds": 3600})
    slices = checkpoint_states(every_slice.states)
    assert slices >= 4 * 3, "each account's backfill is several slices, each checkpointed"
    assert checkpoint_states(paced.states) == 0, "a run shorter than the interval writes no checkpoint"
    assert len(paced.states) <= len(every_slice.states) - slices
    assert sorted(r["invoice_id"] for r in paced.records) == sorted(
        r["invoice_id"] for r in every_slice.records
    )
    assert paced.state == every_slice.state, "the same end-of-run state"
