"""A saved state is applied only to the key mode it was built with, and remembers the start_date it covers.

Pure functions first (``state.bind``, ``history_gap``, ``record_coverage``), then whole runs against the
in-memory Stripe: a test-mode trial followed by a live key, and start_date moved earlier.
"""

from __future__ import annotations

from typing import Any

import pytest
from tap_stripe_billing import state as st
from tap_stripe_billing.tap import TapStripeBilling

from tests.tap import payloads as p
from tests.tap.harness import LIVE_KEY, FakeStripe, run_tap

H = 3600
DAY = 86_400
T0 = 1_790_000_000
TEST_KEY = "sk_test_unit_test_key_0123456789"


# -- pure -------------------------------------------------------------------------------------------------
def test_key_mode_comes_from_the_prefix() -> None:
    assert st.key_mode("sk_test_x") == st.key_mode("rk_test_x") == "test"
    assert st.key_mode("sk_live_x") == st.key_mode("rk_live_x") == "live"
    assert st.binding_for({"api_key": " rk_test_abc "}) == {"stripe_mode": "test"}


def test_a_state_without_binding_is_adopted_unchanged() -> None:
    state: dict[str, Any] = {
        "replication_key": "paid_at",
        "replication_key_value": "2026-10-01T00:00:00+00:00",
    }
    assert st.bind(state, {"stripe_mode": "live"}) is None
    assert state["replication_key_value"] == "2026-10-01T00:00:00+00:00"
    assert state["binding"] == {"stripe_mode": "live"}


def test_another_mode_parks_the_state_and_gets_it_back() -> None:
    test_state: dict[str, Any] = {
        "replication_key_value": "2026-10-01T00:00:00+00:00",
        "emitted": [["in_t", 1]],
        "covered_from": None,
        "binding": {"stripe_mode": "test"},
    }
    state = dict(test_state)
    line = st.bind(state, {"stripe_mode": "live"})
    assert line is not None and "stripe_mode test -> live" in line and "reading from start_date" in line
    assert state == {
        "binding": {"stripe_mode": "live"},
        "parked": {
            "stripe_mode=test": {
                "replication_key_value": "2026-10-01T00:00:00+00:00",
                "emitted": [["in_t", 1]],
                "covered_from": None,
            }
        },
    }
    state["replication_key_value"] = "2026-11-01T00:00:00+00:00"
    back = st.bind(state, {"stripe_mode": "test"})
    assert back is not None and "resuming" in back
    assert state["replication_key_value"] == "2026-10-01T00:00:00+00:00"
    assert state["parked"] == {"stripe_mode=live": {"replication_key_value": "2026-11-01T00:00:00+00:00"}}


def test_a_field_the_state_lacks_is_adopted_not_compared() -> None:
    """The account can join the binding later (SPEC §6) without resetting existing states."""
    state: dict[str, Any] = {"binding": {"stripe_mode": "live"}, "replication_key_value": "x"}
    assert st.bind(state, {"stripe_mode": "live", "stripe_account": "acct_1"}) is None
    assert state["binding"] == {"stripe_mode": "live", "stripe_account": "acct_1"}
    assert st.bind(state, {"stripe_mode": "live", "stripe_account": "acct_2"}) is not None
    assert "replication_key_value" not in state


def test_history_gap_only_when_start_date_is_earlier_than_the_coverage() -> None:
    bookmarked = {"replication_key_value": "x", "covered_from": st.to_iso(T0 - 10 * DAY)}
    assert st.history_gap(bookmarked, T0 - 30 * DAY) == (T0 - 30 * DAY, T0 - 10 * DAY)
    assert st.history_gap(bookmarked, None) == (None, T0 - 10 * DAY)
    assert st.history_gap(bookmarked, T0 - 5 * DAY) is None
    assert st.history_gap({"replication_key_value": "x", "covered_from": None}, None) is None
    assert st.history_gap({"replication_key_value": "x"}, T0 - 30 * DAY) is None  # old state: adopted
    assert st.history_gap({"covered_from": st.to_iso(T0)}, T0 - 30 * DAY) is None  # no bookmark yet


@pytest.mark.parametrize(
    ("before", "had_bookmark", "start", "after"),
    [
        ({}, False, T0 - 5 * DAY, T0 - 5 * DAY),
        ({}, True, T0 - 5 * DAY, T0 - 5 * DAY),  # a state from before coverage was recorded
        ({"covered_from": st.to_iso(T0 - 9 * DAY)}, True, T0 - 5 * DAY, T0 - 9 * DAY),  # moved later
        ({"covered_from": st.to_iso(T0 - 9 * DAY)}, True, T0 - 20 * DAY, T0 - 20 * DAY),  # earlier
        ({"covered_from": None}, True, T0 - 5 * DAY, None),
        ({"covered_from": st.to_iso(T0 - 9 * DAY)}, True, None, None),
        ({"covered_from": None}, False, T0 - 5 * DAY, T0 - 5 * DAY),  # fresh (e.g. after a mode switch)
    ],
)
def test_record_coverage(
    before: dict[str, Any], had_bookmark: bool, start: int | None, after: int | None
) -> None:
    state = dict(before)
    st.record_coverage(state, had_bookmark=had_bookmark, start_date=start)
    assert st.covered_from(state) == (True, after)


# -- whole runs ---------------------------------------------------------------------------------------------
@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeStripe:
    stripe = FakeStripe(now=T0, prices=[p.price()])
    monkeypatch.setattr(TapStripeBilling, "build_api", lambda self: stripe)
    return stripe


def paid(fake: FakeStripe, invoice_id: str, at: int, *, livemode: bool = True) -> None:
    fake.add_invoice(p.invoice(invoice_id, created=at, paid_at=at, livemode=livemode), event_created=at)


def ids(records: list[dict[str, Any]]) -> list[str]:
    return sorted(r["invoice_id"] for r in records)


def test_going_live_after_a_test_trial_reads_the_live_history(
    fake: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    """The in-memory Stripe shows both modes to every key, so the mode filter shows what each run read."""
    start = st.to_iso(T0 - 60 * DAY)
    paid(fake, "in_live_old", T0 - 40 * DAY)
    paid(fake, "in_test", T0 - 2 * DAY, livemode=False)
    trial = run_tap({"api_key": TEST_KEY, "allow_test_mode": True, "start_date": start})
    assert "in_test" in ids(trial.records)
    assert trial.stream_state["binding"] == {"stripe_mode": "test"}

    fake.now = T0 + H
    paid(fake, "in_live_new", T0 + 60)
    caplog.clear()
    live = run_tap({"api_key": LIVE_KEY, "start_date": start}, trial.state)
    assert live.summary["mode"] == "backfill", "the test bookmark must not be applied to the live key"
    assert ids(live.records) == ["in_live_new", "in_live_old"]
    assert all(r["livemode"] is True for r in live.records)
    assert "belongs to another Stripe key (stripe_mode test -> live)" in caplog.text
    assert live.stream_state["binding"] == {"stripe_mode": "live"}
    assert "stripe_mode=test" in live.stream_state["parked"]

    # The next live hour is an ordinary events run: one events page, nothing twice, no extra request.
    fake.now = T0 + 2 * H
    fake.requests.clear()
    caplog.clear()
    hourly = run_tap({"api_key": LIVE_KEY, "start_date": start}, live.state)
    assert hourly.summary["mode"] == "incremental"
    assert hourly.records == []
    assert "another Stripe key" not in caplog.text
    assert fake.requests["GET /v1/invoices"] == 0


def test_start_date_moved_earlier_backfills_the_missing_range_once(
    fake: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    paid(fake, "in_before_both", T0 - 80 * DAY)
    paid(fake, "in_early", T0 - 50 * DAY)
    paid(fake, "in_late", T0 - 10 * DAY)
    first = run_tap({"api_key": LIVE_KEY, "start_date": st.to_iso(T0 - 30 * DAY)})
    assert ids(first.records) == ["in_late"]
    assert first.stream_state["covered_from"] == st.to_iso(T0 - 30 * DAY)

    fake.now = T0 + H
    paid(fake, "in_hour", T0 + 60)
    caplog.clear()
    moved = run_tap({"api_key": LIVE_KEY, "start_date": st.to_iso(T0 - 60 * DAY)}, first.state)
    assert ids(moved.records) == ["in_early", "in_hour"]
    assert "start_date is earlier than the history already read" in caplog.text
    assert moved.stream_state["covered_from"] == st.to_iso(T0 - 60 * DAY)

    fake.now = T0 + 2 * H
    caplog.clear()
    again = run_tap({"api_key": LIVE_KEY, "start_date": st.to_iso(T0 - 60 * DAY)}, moved.state)
    assert again.records == [] and again.summary["mode"] == "incremental"
    assert "earlier than the history" not in caplog.text

    # Moved later, then back: nothing is read again.
    later = run_tap({"api_key": LIVE_KEY, "start_date": st.to_iso(T0 - 20 * DAY)}, again.state)
    back = run_tap({"api_key": LIVE_KEY, "start_date": st.to_iso(T0 - 60 * DAY)}, later.state)
    assert later.records == [] and back.records == []

    # Removed: the whole history before the coverage, once.
    whole = run_tap({"api_key": LIVE_KEY}, back.state)
    assert ids(whole.records) == ["in_before_both"]
    assert whole.stream_state["covered_from"] is None
    assert run_tap({"api_key": LIVE_KEY}, whole.state).records == []
