"""Lifecycle ground truth: upgrades/downgrades, cancellations, refunds."""

from __future__ import annotations

from decimal import Decimal

from stand_ins.stripe import (
    AccountConfig,
    expected_cancellations,
    expected_changes,
    expected_refunds,
    generate_account,
)
from stand_ins.stripe.truth_lifecycle import cancelation_reason

DAY = 86_400


def test_lifecycle_truth() -> None:
    account = generate_account(AccountConfig(seed=17, invoices=3000))
    now = account.now
    changes = expected_changes(account, now + 1)
    assert {c["direction"] for c in changes.values()} == {"upgraded", "downgraded"}
    for c in changes.values():
        assert (c["mrr_after"] > c["mrr_before"]) == (c["direction"] == "upgraded")
        assert c["amount"] > 0
    ids = set(changes)
    assert any(i.startswith("evt_") for i in ids) and any(i.startswith("in_") for i in ids)
    swaps = [ch for s in account.subscriptions for ch in s.changes if ch.kind == "swap" and s.livemode]
    swap_ids = {ch.event_id for ch in swaps} | {ch.invoice.id for ch in swaps if ch.invoice}
    equal = [ch for ch in swaps if ch.old_items[0][1].unit_amount * 3 == ch.new_items[0][1].unit_amount]
    assert not ({ch.event_id for ch in equal} | {ch.invoice.id for ch in equal if ch.invoice}) & ids
    assert swap_ids  # equal-MRR swaps exist and are left out
    cancels = expected_cancellations(account, now + 1)
    assert cancels and all(c["canceled_at"] for c in cancels.values())
    assert "Payment failed" in {c["cancelation_reason"] for c in cancels.values()}
    refunds = expected_refunds(account, now + 1)
    assert refunds and all(r["amount"] > Decimal(0) for r in refunds.values())
    assert all(account.get("refund", rid).status == "succeeded" for rid in refunds)
    window = expected_refunds(account, now - 10 * DAY, now - 40 * DAY)
    assert set(window) <= set(refunds)


def test_cancelation_reason_labels() -> None:
    assert cancelation_reason("too_expensive", "cancellation_requested", None) == "Too expensive"
    assert cancelation_reason(None, "cancellation_requested", "Budget") == "Cancellation requested — Budget"
    assert cancelation_reason(None, "payment_failed", None) == "Payment failed"
