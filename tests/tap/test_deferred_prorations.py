"""Immediate, deferred (Stripe's default) and unprorated subscription changes, mixed on one subscription,
through the ``subscription_changed`` stream: a first run that rebuilds the history past the 30-day event
retention from proration lines, then hourly runs; records equal the oracle, nothing twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from tap_stripe_billing.lifecycle_streams import EVENT_RETENTION, RETENTION_MARGIN

from stand_ins.stripe import LIVE_KEY, StripeStandIn, expected_changes, generate_account
from stand_ins.stripe.config import AccountConfig
from stand_ins.stripe.truth_lifecycle import mrr
from tests.tap.harness import run_tap

pytestmark = pytest.mark.slow  # whole runs against a generated account

CHANGED = "subscription_changed"
LAG = 300


@pytest.fixture(scope="module")
def server() -> Iterator[StripeStandIn]:
    cfg = AccountConfig(
        seed=53,
        invoices=4000,
        history_days=90,
        horizon_days=2,
        change_share=0.35,
        deferred_change_share=0.4,
        none_change_share=0.2,
    )
    with StripeStandIn(generate_account(cfg), port=0) as srv:
        yield srv


def test_the_stand_in_mixes_the_three_proration_behaviors(server: StripeStandIn) -> None:
    account = server.account
    kinds = Counter(ch.behavior for s in account.subscriptions for ch in s.changes if ch.kind != "metadata")
    assert set(kinds) == {"always_invoice", "create_prorations", "none"}
    mixed = [s for s in account.subscriptions if {ch.behavior for ch in s.changes} >= set(kinds)]
    assert mixed, "one subscription with all three"
    for sub in account.subscriptions:
        for ch in sub.changes:
            if ch.behavior == "create_prorations" and ch.invoice is not None:
                assert ch.invoice.billing_reason in ("subscription_cycle", "subscription_update")
                assert ch.invoice.created > ch.at
                assert any(ln.proration and ln.start == ch.at for ln in ch.invoice.lines)
            if ch.behavior == "none":
                assert ch.invoice is None
    assert not any(
        i.billing_reason == "subscription_update" and i.created == ch.at
        for s in account.subscriptions
        for ch in s.changes
        if ch.behavior != "always_invoice"
        for i in account.invoices
        if i.sub is s
    )


def test_changes_of_every_proration_behavior_exactly_once(server: StripeStandIn) -> None:
    account = server.account
    saved = account.now
    retained_from = saved - EVENT_RETENTION + RETENTION_MARGIN
    config = {"api_key": LIVE_KEY, "api_url": server.url, "max_requests_per_second": 1000}
    records: list[dict[str, Any]] = []
    state: dict[str, Any] | None = None
    try:
        for step in range(3):
            if step:
                account.advance(hours=2)
            result = run_tap(config, state, streams=(CHANGED,))
            state = result.state
            records += result.records
        want = expected_changes(account, account.now - LAG, retained_from=retained_from)
        got = {r["change_id"]: r for r in records}
        assert len(got) == len(records), "a change was emitted twice"
        assert sorted(set(want) - set(got)) == [], "missing"
        assert sorted(set(got) - set(want)) == [], "unexpected"
        diffs = [(k, f, v, got[k][f]) for k, r in want.items() for f, v in r.items() if got[k][f] != v]
        assert [d for d in diffs if d[1] != "customer_email"] == []

        # History past the events holds each kind of invoiced change, and an earlier invoiced change
        # followed by an unprorated one on the same subscription.
        old = [ch for s in account.subscriptions if s.livemode for ch in s.changes if ch.at < retained_from]
        found = {
            ch.behavior
            for ch in old
            if ch.invoice is not None and ch.invoice.id in {i.split("@")[0] for i in got}
        }
        assert found == {"always_invoice", "create_prorations"}
        masked = [
            ch
            for s in account.subscriptions
            if s.livemode
            for i, ch in enumerate(s.changes)
            if ch.at < retained_from
            and ch.invoice is not None
            and mrr(ch.old_items) != mrr(ch.new_items)
            and any(later.behavior == "none" and later.kind != "metadata" for later in s.changes[i + 1 :])
        ]
        assert masked, "an invoiced change followed by an unprorated one, past the events"
    finally:
        account.set_now(saved)
