"""Whole runs against the Stripe stand-in where ``invoice.paid`` events are created after ``paid_at``.

Stripe stamps an invoice's ``status_transitions.paid_at`` and, separately, creates the ``invoice.paid``
event; nothing promises the same second. The generator makes a share of paid events up to 5 minutes late
(``late_paid_event_share``), and these runs reach the two rules of ``state.py`` that only late events
exercise:

- the **retention floor** (bookmark - 2 x overlap): an invoice a backfill emitted (its event time unknown,
  so keyed by ``paid_at``) whose late event the next incremental run re-reads must still be in the dedupe
  set. With a floor of one overlap it would be dropped and emitted twice.
- the **event-time dedupe key** (max(paid_at, event created)): an invoice an incremental run emitted from
  an event created more than one overlap after ``paid_at``, in the last overlap of the window, is re-read
  by the next run; keyed by ``paid_at`` it would have been pruned and emitted twice.

Each test first checks that the generated account really contains such a case for the windows it runs
(so it cannot pass vacuously), then compares everything emitted with the ground truth, exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from tap_stripe_billing.state import to_iso

from stand_ins.stripe import (
    LIVE_KEY,
    Account,
    AccountConfig,
    StripeStandIn,
    expected_billed,
    generate_account,
)
from tests.tap.harness import RunResult, run_tap
from tests.tap.test_end_to_end import compare

pytestmark = pytest.mark.slow  # dozens of whole runs against a generated account

MINUTE = 60
LAG = 1 * MINUTE
MAX_DELAY = 5 * MINUTE


@dataclass(frozen=True)
class Paid:
    invoice_id: str
    paid_at: int
    event_created: int


@pytest.fixture(scope="module")
def server() -> Iterator[StripeStandIn]:
    cfg = AccountConfig(
        seed=13,
        invoices=8000,
        history_days=3,
        horizon_days=1,
        late_paid_event_share=0.2,
        late_paid_event_max_seconds=MAX_DELAY,
        late_event_share=0.0,  # visibility delays are another test's subject (test_end_to_end)
    )
    with StripeStandIn(generate_account(cfg), port=0) as srv:
        yield srv


def billable_paid(account: Account) -> list[Paid]:
    """Invoices the tap emits (live, subscription, amount > 0) with their paid event's time."""
    out = []
    for event in account.events:
        inv = event.obj
        if event.type == "invoice.paid" and inv.livemode and inv.sub is not None and inv.paid_amount > 0:
            out.append(Paid(inv.id, inv.paid_at, event.created))
    return out


def tap_config(server: StripeStandIn, start: int, overlap_minutes: int) -> dict[str, Any]:
    return {
        "api_key": LIVE_KEY,
        "api_url": server.url,
        "max_requests_per_second": 1000,
        "start_date": to_iso(start),
        "lag_minutes": LAG // MINUTE,
        "overlap_minutes": overlap_minutes,
    }


def run_every(
    server: StripeStandIn, first_upper: int, overlap: int, step: int, runs: int
) -> tuple[list[RunResult], list[int], dict[str, int]]:
    """A first run (backfill) with U = ``first_upper``, then ``runs`` incremental runs ``step`` apart."""
    account = server.account
    account.set_now(first_upper + LAG)
    start = first_upper - 6 * 3600
    results: list[RunResult] = []
    uppers: list[int] = []
    emitted_at: dict[str, int] = {}
    state: dict[str, Any] | None = None
    for number in range(runs + 1):
        if number:
            account.advance(seconds=step)
        result = run_tap(tap_config(server, start, overlap // MINUTE), state)
        assert result.summary["mode"] == ("backfill" if number == 0 else "incremental")
        results.append(result)
        uppers.append(account.now - LAG)
        emitted_at.update({r["invoice_id"]: account.now for r in result.records})
        state = result.state
    everything = [r for result in results for r in result.records]
    last_upper = uppers[-1]
    want = expected_billed(account, paid_before=last_upper, paid_from=start, paid_events_before=last_upper)
    compare(everything, want, account, emitted_at)
    return results, uppers, emitted_at


@pytest.fixture
def restore_clock(server: StripeStandIn) -> Iterator[None]:
    saved = server.account.now
    try:
        yield
    finally:
        server.account.set_now(saved)


def test_backfilled_invoice_reread_through_its_late_event_is_not_emitted_twice(
    server: StripeStandIn, restore_clock: None
) -> None:
    overlap = MAX_DELAY  # the tap's design bound: paid events at most one overlap late
    paid = billable_paid(server.account)
    # A first run's U with a backfilled invoice paid in [U - 2 overlap, U - overlap) whose event the next
    # run re-reads (created >= U - overlap): kept only by the second overlap of the retention floor.
    now = server.account.now

    def reaching(upper: int) -> list[Paid]:
        return [
            p
            for p in paid
            if upper - 2 * overlap <= p.paid_at < upper - overlap and upper - overlap <= p.event_created
        ]

    first_upper = next(u for u in range(now, now + 12 * 3600, MINUTE) if len(reaching(u)) >= 2)
    cases = reaching(first_upper)
    results, _, _ = run_every(server, first_upper, overlap, step=10 * MINUTE, runs=6)
    backfilled = {r["invoice_id"] for r in results[0].records}
    assert {c.invoice_id for c in cases} <= backfilled
    # The second run met their events again and skipped them as emitted in the overlap.
    assert results[1].summary["filtered_out"].get("already_emitted", 0) >= len(cases)


def test_invoice_emitted_from_a_late_event_is_not_emitted_twice(
    server: StripeStandIn, restore_clock: None
) -> None:
    overlap = 1 * MINUTE  # smaller than the delays: only the event-time dedupe key keeps these
    step = 3 * MINUTE
    paid = billable_paid(server.account)
    now = server.account.now
    # Start where the backfill emits no invoice whose paid event is still to come in an overlap (their key
    # would be paid_at, and an event over one overlap late is beyond what a backfill can guard).
    first_upper = next(
        u
        for u in range(now, now + 12 * 3600, MINUTE)
        if not any(p.paid_at < u <= p.event_created + 2 * overlap for p in paid)
    )
    results, uppers, _ = run_every(server, first_upper, overlap, step=step, runs=30)
    # The cases: emitted by incremental run k from an event created in its last overlap, more than
    # two overlaps after paid_at, so run k + 1 reads the event again.
    by_id = {p.invoice_id: p for p in paid}
    reached = 0
    for k in range(1, len(results) - 1):
        for record in results[k].records:
            p = by_id[record["invoice_id"]]
            if uppers[k] - overlap <= p.event_created < uppers[k] and p.paid_at < uppers[k] - 2 * overlap:
                reached += 1
    assert reached >= 2, f"the account gave only {reached} case(s): change the seed or the share"
    skipped = sum(r.summary["filtered_out"].get("already_emitted", 0) for r in results[2:])
    assert skipped >= reached
