"""Cancellations at period end (the Customer Portal's default), exactly once across runs: Stripe's
``canceled_at`` is the request, long before the subscription ends and its ``customer.subscription.deleted``
event; a first run that lists a subscription ended just before it, and the next run that re-reads the
deleted event in its overlap, must not both emit it; one that ends between two runs is emitted once."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pytest

from stand_ins.stripe import LIVE_KEY, StripeStandIn, expected_cancellations, generate_account
from stand_ins.stripe.config import AccountConfig
from stand_ins.stripe.model import Subscription
from stand_ins.stripe.render_subscription import subscription
from tests.tap.harness import run_tap

pytestmark = pytest.mark.slow  # whole runs against a generated account

CANCELED = "subscription_canceled"
LAG, HOUR, DAY = 300, 3600, 86_400


@pytest.fixture(scope="module")
def server() -> Iterator[StripeStandIn]:
    cfg = AccountConfig(seed=47, invoices=3000, history_days=60, horizon_days=3, period_end_cancel_share=0.6)
    with StripeStandIn(generate_account(cfg), port=0) as srv:
        yield srv


def pair(subs: list[Subscription], now: int) -> tuple[Subscription, Subscription]:
    """A: ended at period end, requested hours before, within the event retention; B: the next one to end,
    1 to 24 hours later."""
    ends = sorted(
        (s for s in subs if s.livemode and s.cancel_at_period_end and s.ended_at and s.ended_at < now),
        key=lambda s: s.ended_at or 0,
    )
    for a, b in pairwise(ends):
        assert a.ended_at is not None and b.ended_at is not None and a.canceled_at is not None
        recent = now - 25 * DAY < a.ended_at < now - 2 * DAY
        if recent and a.canceled_at < a.ended_at - 3 * HOUR and HOUR < b.ended_at - a.ended_at < DAY:
            return a, b
    raise AssertionError("no pair of period-end cancellations in this account")


def test_the_stand_in_cancels_at_period_end_as_stripe_does(server: StripeStandIn) -> None:
    account = server.account
    at_end = [s for s in account.subscriptions if s.cancel_at_period_end and s.ended_at]
    assert at_end and all((s.canceled_at or 0) < (s.ended_at or 0) for s in at_end)
    sub = at_end[0]
    assert sub.canceled_at is not None and sub.ended_at is not None
    between = subscription(sub, sub.canceled_at + 1)
    assert between["status"] != "canceled" and between["cancel_at_period_end"] is True
    assert between["canceled_at"] == sub.canceled_at and between["cancel_at"] == sub.ended_at
    assert between["ended_at"] is None
    after = subscription(sub, sub.ended_at)
    assert after["status"] == "canceled" and after["ended_at"] == sub.ended_at
    assert after["canceled_at"] == sub.canceled_at
    deleted = [e for e in account.events if e.obj is sub and e.type == "customer.subscription.deleted"]
    assert [e.created for e in deleted] in ([], [sub.ended_at])
    immediate = [s for s in account.subscriptions if s.ended_at and not s.cancel_at_period_end]
    assert immediate and all(s.canceled_at == s.ended_at for s in immediate)


def test_period_end_cancellations_exactly_once_across_runs(server: StripeStandIn) -> None:
    account = server.account
    saved = account.now
    a, b = pair(account.subscriptions, saved)
    assert a.ended_at is not None and b.ended_at is not None
    config = {"api_key": LIVE_KEY, "api_url": server.url, "max_requests_per_second": 1000}
    records: list[dict[str, Any]] = []
    emitted_in: dict[str, int] = {}
    state: dict[str, Any] | None = None
    try:
        # First run just after A ended (its deleted event is in the next run's overlap), then runs every
        # two hours until B has ended and been read.
        account.set_now(a.ended_at + LAG + 900)
        step = 0
        while account.now < b.ended_at + 4 * HOUR:
            if step:
                account.advance(hours=2)
            result = run_tap(config, state, streams=(CANCELED,))
            assert result.summary["mode"] == ("backfill" if step == 0 else "incremental")
            state = result.state
            records += result.records
            for record in result.records:
                emitted_in.setdefault(record["subscription_id"], step)
            step += 1
        want = expected_cancellations(account, account.now - LAG)
        got = {r["subscription_id"]: r for r in records}
        assert len(got) == len(records), "a cancellation was emitted twice"
        assert set(got) == set(want)
        assert [
            (k, f) for k, r in want.items() for f, v in r.items() if f != "customer_email" and got[k][f] != v
        ] == []
        assert emitted_in[a.id] == 0 and emitted_in[b.id] > 0
    finally:
        account.set_now(saved)
