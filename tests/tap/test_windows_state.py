"""Read windows, bookmarks and dedupe: pure functions, then whole runs against an in-memory Stripe."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from tap_stripe_billing import state as st
from tap_stripe_billing.tap import TapStripeBilling
from tap_stripe_billing.windows import WindowSettings, in_window, iso_utc, plan_read, time_slices

from tests.tap import payloads as p
from tests.tap.harness import LIVE_KEY, FakeStripe, run_tap

H = 3600
DAY = 86_400
T0 = 1_790_000_000  # "now" of the first run
S = WindowSettings()


# -- pure --------------------------------------------------------------------------------------------------
def test_first_run_plan_lists_invoices_with_slack() -> None:
    plan = plan_read(now=T0, bookmark=None, start_date=T0 - 100 * DAY, settings=S)
    assert plan.mode == "backfill"
    assert plan.upper == T0 - 5 * 60
    assert plan.paid_from == T0 - 100 * DAY
    assert plan.created_gte == T0 - 100 * DAY - 62 * DAY


def test_whole_history_plan_has_no_lower_bound() -> None:
    plan = plan_read(now=T0, bookmark=None, start_date=None, settings=S)
    assert plan.created_gte is None and plan.paid_from is None
    assert in_window(1, plan) and not in_window(plan.upper, plan)


def test_recent_bookmark_reads_events_with_overlap() -> None:
    plan = plan_read(now=T0, bookmark=T0 - H, start_date=None, settings=S)
    assert plan.mode == "incremental"
    assert plan.created_gte == T0 - 2 * H
    assert in_window(T0 - 40 * DAY, plan)  # events mode keeps every paid event it reads ...
    with_start = plan_read(now=T0, bookmark=T0 - H, start_date=T0 - DAY, settings=S)
    assert not in_window(T0 - 2 * DAY, with_start)  # ... except before start_date


def test_stale_bookmark_falls_back_to_listing() -> None:
    plan = plan_read(now=T0, bookmark=T0 - 29 * DAY - 1, start_date=None, settings=S)
    assert plan.mode == "backfill"
    assert plan.paid_from == T0 - 29 * DAY - 1 - H
    assert plan.created_gte == plan.paid_from - 62 * DAY  # type: ignore[operator]
    fresh = plan_read(now=T0, bookmark=T0 - 28 * DAY, start_date=None, settings=S)
    assert fresh.mode == "incremental"


@pytest.mark.parametrize(("gte", "lt", "parts"), [(0, 100, 8), (0, 5, 8), (10, 11, 3), (0, 1_000_003, 7)])
def test_time_slices_cover_range_disjointly(gte: int, lt: int, parts: int) -> None:
    slices = time_slices(gte, lt, parts)
    assert len(slices) == min(parts, lt - gte)
    covered = sorted(slices)
    assert covered[0][0] == gte and covered[-1][1] == lt
    assert all(a[1] == b[0] for a, b in itertools.pairwise(covered))
    assert slices == sorted(slices, reverse=True)  # newest first


def test_timestamps_parse() -> None:
    assert st.parse_timestamp("2024-01-01T00:00:00Z") == 1_704_067_200
    assert st.parse_timestamp("2024-01-01T01:00:00+01:00") == 1_704_067_200
    assert st.parse_timestamp("2024-01-01") == 1_704_067_200
    assert st.parse_timestamp(None) is None
    assert iso_utc(1_704_067_200) == "2024-01-01T00:00:00+00:00"


def test_finalize_writes_bookmark_u_and_prunes() -> None:
    state: dict[str, Any] = {
        "replication_key": "paid_at",
        "replication_key_value": "x",
        "progress_markers": {"replication_key": "paid_at", "replication_key_value": "2020-01-01"},
        "replication_key_signpost": "y",
    }
    emitted = {"in_old": T0 - 3 * H, "in_edge": T0 - 2 * H, "in_new": T0 - 10}
    st.finalize(state, previous_bookmark=None, upper=T0, emitted=emitted, overlap_seconds=H)
    assert state == {
        "replication_key": "paid_at",
        "replication_key_value": iso_utc(T0),
        "emitted": [["in_edge", T0 - 2 * H], ["in_new", T0 - 10]],
    }
    assert st.read_bookmark(state) == T0
    assert st.read_emitted(state) == {"in_edge": T0 - 2 * H, "in_new": T0 - 10}


def test_finalize_never_moves_bookmark_back() -> None:
    state: dict[str, Any] = {}
    st.finalize(state, previous_bookmark=T0, upper=T0 - 100, emitted={}, overlap_seconds=H)
    assert st.read_bookmark(state) == T0


def test_dedupe_key_uses_event_time_when_later() -> None:
    assert st.dedupe_key(100, None) == 100
    assert st.dedupe_key(100, 160) == 160
    assert st.dedupe_key(100, 90) == 100


# -- whole runs against an in-memory Stripe -----------------------------------------------------------------
@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeStripe:
    stripe = FakeStripe(now=T0, prices=[p.price()])
    stripe.customers["cus_noemail"] = {"id": "cus_noemail", "email": "  Bob@Example.com "}
    monkeypatch.setattr(TapStripeBilling, "build_api", lambda self: stripe)
    return stripe


def config(**extra: Any) -> dict[str, Any]:
    """The tap's clock is Stripe's: here ``fake.now``."""
    return {"api_key": LIVE_KEY, "start_date": iso_utc(T0 - 100 * DAY), **extra}


def paid(fake: FakeStripe, invoice_id: str, created: int, paid_at: int, *, late: int = 0, **kw: Any) -> None:
    """An invoice paid at ``paid_at`` whose invoice.paid event becomes visible ``late`` seconds later."""
    inv = p.invoice(invoice_id, created=created, paid_at=paid_at, **kw)
    fake.add_invoice(inv, event_created=paid_at, visible_at=paid_at + late)


def ids(records: list[dict[str, Any]]) -> list[str]:
    return sorted(r["invoice_id"] for r in records)


def test_exactly_once_across_first_run_and_hourly_runs(fake: FakeStripe) -> None:
    paid(fake, "in_old", T0 - 160 * DAY, T0 - 150 * DAY)  # before start_date
    paid(fake, "in_slack", T0 - 130 * DAY, T0 - 90 * DAY)  # created before start_date, paid after
    paid(fake, "in_a", T0 - 10 * DAY, T0 - 10 * DAY + 60)
    paid(fake, "in_lag", T0 - 2 * DAY, T0 - 120)  # paid inside the lag: next run
    paid(fake, "in_zero", T0 - 3 * DAY, T0 - 3 * DAY, amount_paid=0)
    paid(fake, "in_test", T0 - 3 * DAY, T0 - 3 * DAY, livemode=False)
    paid(fake, "in_oneoff", T0 - 3 * DAY, T0 - 3 * DAY, subscription=None)
    paid(fake, "in_mail", T0 - 4 * DAY, T0 - 4 * DAY, customer="cus_noemail", customer_email=None)
    first = run_tap(config())
    assert ids(first.records) == ["in_a", "in_mail", "in_slack"]
    assert first.summary["mode"] == "backfill"
    assert first.summary["filtered_out"] == {
        "before_start_date": 1,
        "not_subscription": 1,
        "out_of_window": 1,
        "test_mode": 1,
        "zero_amount": 1,
    }
    assert (
        next(r for r in first.records if r["invoice_id"] == "in_mail")["customer_email"] == "Bob@Example.com"
    )
    assert first.stream_state["replication_key_value"] == iso_utc(T0 - 300)
    assert "progress_markers" not in first.stream_state

    # Hour 1: a late event (created before the last U, visible only now), an invoice created before the
    # bookmark and paid after it, and the lag invoice.
    t1 = T0 + H
    fake.now = t1
    paid(fake, "in_late", T0 - 3 * DAY, T0 - 400, late=900)
    paid(fake, "in_created_before", T0 - 20 * DAY, T0 + 600)
    second = run_tap(config(), first.state)
    assert second.summary["mode"] == "incremental"
    assert ids(second.records) == ["in_created_before", "in_lag", "in_late"]
    assert second.stream_state["replication_key_value"] == iso_utc(t1 - 300)

    # Hour 2: nothing new; the overlap re-reads the same events and emits nothing.
    t2 = t1 + H
    fake.now = t2
    third = run_tap(config(), second.state)
    assert third.records == []
    assert third.summary["filtered_out"].get("already_emitted", 0) >= 2
    assert third.stream_state["replication_key_value"] == iso_utc(t2 - 300)

    # Hour 3 after a 40-day gap: events are gone, the run lists invoices again and dedupes.
    t3 = t2 + 40 * DAY
    fake.now = t3
    paid(fake, "in_gap", t2 + 5 * DAY, t2 + 6 * DAY)
    fake.events.clear()  # Stripe kept none of them
    fourth = run_tap(config(), third.state)
    assert fourth.summary["mode"] == "backfill"
    assert ids(fourth.records) == ["in_gap"]

    everything = first.records + second.records + third.records + fourth.records
    assert len(ids(everything)) == len(set(ids(everything)))


def test_duplicate_events_in_one_run_emit_once(fake: FakeStripe) -> None:
    paid(fake, "in_a", T0 - 2 * H, T0 - 2 * H)
    inv = fake.invoices["in_a"]
    fake.events.append(
        (
            T0 - 2 * H + 5,
            T0 - 2 * H + 5,
            {"id": "evt_dup", "type": "invoice.paid", "created": T0 - 2 * H + 5, "data": {"object": inv}},
        )
    )
    state = {
        "bookmarks": {
            "subscription_billed": {
                "replication_key": "paid_at",
                "replication_key_value": iso_utc(T0 - 3 * H),
            }
        }
    }
    result = run_tap(config(), state)
    assert ids(result.records) == ["in_a"]
    assert result.summary["filtered_out"] == {"duplicate": 1}


def test_test_mode_event_never_emitted(fake: FakeStripe) -> None:
    paid(fake, "in_t", T0 - 2 * H, T0 - 2 * H, livemode=False)
    state = {
        "bookmarks": {
            "subscription_billed": {
                "replication_key": "paid_at",
                "replication_key_value": iso_utc(T0 - 3 * H),
            }
        }
    }
    assert run_tap(config(), state).records == []
    allowed = run_tap(config(api_key="sk_test_x", allow_test_mode=True), state)
    assert ids(allowed.records) == ["in_t"] and allowed.records[0]["livemode"] is False


def test_failed_run_emits_no_new_bookmark(fake: FakeStripe, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(5):
        paid(fake, f"in_{i}", T0 - DAY - i, T0 - DAY - i)
    state = {
        "bookmarks": {
            "subscription_billed": {
                "replication_key": "paid_at",
                "replication_key_value": iso_utc(T0 - 2 * DAY),
                "emitted": [["in_x", T0 - 2 * DAY]],
            }
        }
    }
    original = fake.get

    def failing_get(path: str, params: Any = (), *, missing_ok: bool = False) -> Any:
        if path.startswith("/v1/customers"):
            raise RuntimeError("boom")
        return original(path, params, missing_ok=missing_ok)

    monkeypatch.setattr(fake, "get", failing_get)
    fake.invoices["in_3"]["customer_email"] = None
    import io
    from contextlib import redirect_stdout

    tap = TapStripeBilling(config=config(), state=state)
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(RuntimeError):
        tap.sync_all()
    messages = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    emitted = [m["record"]["invoice_id"] for m in messages if m["type"] == "RECORD"]
    # Records written before the failure (if any left the output buffer) are the ones before in_3.
    assert set(emitted) <= {"in_0", "in_1", "in_2"}
    bookmarks = [
        m["value"]["bookmarks"]["subscription_billed"]
        for m in messages
        if m["type"] == "STATE" and "subscription_billed" in m["value"].get("bookmarks", {})
    ]
    assert bookmarks, "the run wrote no STATE at all: nothing to check"
    for bookmark in bookmarks:  # any STATE written still carries the previous bookmark and dedupe set
        assert st.read_bookmark(bookmark) == T0 - 2 * DAY
        assert st.read_emitted(bookmark) == {"in_x": T0 - 2 * DAY}
