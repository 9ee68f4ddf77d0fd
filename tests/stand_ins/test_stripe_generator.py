"""The generated account: determinism, variety, time consistency, clock-driven visibility, size."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from stand_ins.stripe import Account, AccountConfig, StripeStandIn, expected_billed, generate_account
from stand_ins.stripe.render import render

from .stripe_helpers import call, walk

DAY = 86_400


@pytest.fixture(scope="module")
def account() -> Account:
    return generate_account(AccountConfig(seed=3, invoices=3000))


def test_same_seed_same_payloads() -> None:
    a = generate_account(AccountConfig(seed=5, invoices=400))
    b = generate_account(AccountConfig(seed=5, invoices=400))
    c = generate_account(AccountConfig(seed=6, invoices=400))
    dump = lambda acc: json.dumps(  # noqa: E731
        [render("invoice", i, acc.now) for i in acc.invoices] + [render("event", e, 0) for e in acc.events]
    )
    assert dump(a) == dump(b)
    assert dump(a) != dump(c)
    assert expected_billed(a, a.now) == expected_billed(b, b.now)


def test_size_knob(account: Account) -> None:
    live = sum(1 for i in account.invoices if i.livemode and i.created <= account.now)
    assert 3000 <= live <= 3100


def test_variety(account: Account) -> None:
    invoices = account.invoices
    assert {i.currency for i in invoices} == {"usd", "eur", "jpy", "kwd"}
    reasons = Counter(i.billing_reason for i in invoices)
    assert set(reasons) == {"subscription_create", "subscription_cycle", "subscription_update", "manual"}
    assert any(len(i.lines) > 10 for i in invoices)
    assert any(i.sub is not None and i.paid_at is not None and i.paid_amount == 0 for i in invoices)  # trials
    late = [i for i in invoices if i.failed_at is not None and i.paid_at is not None]
    assert late and all(i.paid_at - i.created > DAY for i in late)  # type: ignore[operator]
    only_prorations = [i for i in invoices if i.lines and all(ln.proration for ln in i.lines)]
    assert only_prorations and all(any(ln.amount < 0 for ln in i.lines) for i in only_prorations)
    intervals = {(p.interval, p.interval_count) for p in account.prices}
    assert {("month", 1), ("month", 3), ("year", 1), ("week", 1), ("week", 2)} <= intervals
    assert any(not p.active for p in account.prices)
    assert any(p.nickname for p in account.prices)
    assert any(p.lookup_key and not p.nickname for p in account.prices)
    assert any(not p.lookup_key and not p.nickname and p.kind == "main" for p in account.prices)
    emails = [c.email for c in account.customers]
    assert None in emails
    assert any(e and e != e.strip() for e in emails)
    assert any(e and any(ch.isupper() for ch in e) for e in emails)
    assert any(i.customer_email is None and i.customer.email and i.finalized_at for i in invoices)
    assert {s.cancel_reason for s in account.subscriptions} >= {"cancellation_requested", "payment_failed"}
    kinds = Counter(c.kind for s in account.subscriptions for c in s.changes)
    assert {"upgrade", "downgrade", "swap", "metadata"} <= set(kinds)
    statuses = {i.status_at(account.now) for i in invoices}
    assert statuses == {"draft", "open", "paid", "void", "uncollectible"}
    assert {r.status for r in account.refunds} >= {"succeeded"}
    assert any(not i.livemode for i in invoices)
    types = {e.type for e in account.events}
    assert {
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_failed",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "charge.refunded",
        "refund.created",
        "credit_note.created",
    } <= types


def test_time_consistency(account: Account) -> None:
    for inv in account.invoices:
        if inv.finalized_at is not None:
            assert inv.created <= inv.finalized_at
        if inv.paid_at is not None:
            assert inv.finalized_at is not None and inv.finalized_at <= inv.paid_at
        for ln in inv.lines:
            assert ln.start <= ln.end


def test_legacy_and_late_events(account: Account) -> None:
    legacy = [e for e in account.events if e.legacy and e.type == "invoice.paid"]
    assert legacy
    payload = render("event", legacy[0], 0)["data"]["object"]
    assert "parent" not in payload
    if payload["lines"]["data"] and payload["subscription"]:
        line = payload["lines"]["data"][0]
        assert line["price"]["object"] == "price" and line["plan"]["object"] == "plan"
        assert "pricing" not in line and "parent" not in line and line["type"] == "subscription"
    share = sum(e.legacy for e in account.events) / len(account.events)
    assert 0.05 < share < 0.15
    late = [e for e in account.events if e.visible_at > e.created]
    assert late and all(60 <= e.visible_at - e.created <= 600 for e in late)
    updated = next(e for e in account.events if e.type == "customer.subscription.updated" and e.previous)
    assert render("event", updated, 0)["data"]["previous_attributes"]


def test_clock_reveals_payments_and_events() -> None:
    account = generate_account(AccountConfig(seed=9, invoices=1500))
    start = account.now - 10 * DAY
    late_paid = next(
        i
        for i in account.invoices
        if i.livemode and i.failed_at and i.paid_at and i.failed_at < start < i.paid_at < account.now
    )
    late_event = next(
        e
        for e in account.events
        if e.livemode and account.now - 29 * DAY < e.created < e.visible_at < account.now
    )
    account.set_now(start)
    with StripeStandIn(account) as server:
        url = server.url
        assert call(url, f"/v1/invoices/{late_paid.id}")[1]["status"] == "open"
        before_ids = {i["id"] for i in walk(url, "/v1/invoices", {"status": "paid"})}
        billed_before = expected_billed(account, account.now + 1)
        account.set_now(late_event.created)
        listed = {e["id"] for e in walk(url, "/v1/events", {"created[gte]": late_event.created})}
        assert late_event.id not in listed
        assert call(url, f"/v1/events/{late_event.id}")[0] == 404
        account.advance(minutes=11)
        listed = walk(url, "/v1/events", {"created[gte]": late_event.created})
        assert late_event.id in {e["id"] for e in listed}
        assert next(e for e in listed if e["id"] == late_event.id)["created"] == late_event.created
        status, clock, _ = call(
            url, "/_standin/clock", key=None, method="POST", body={"now": account.config.now}
        )
        assert status == 200 and clock["now"] == account.config.now
        assert call(url, f"/v1/invoices/{late_paid.id}")[1]["status"] == "paid"
        after_ids = {i["id"] for i in walk(url, "/v1/invoices", {"status": "paid"})}
        assert before_ids < after_ids and late_paid.id in after_ids
        billed_after = expected_billed(account, account.now + 1)
        assert set(billed_before) < set(billed_after)
        status, clock, _ = call(url, "/_standin/advance", key=None, method="POST", body={"hours": 24})
        assert clock["now"] == account.config.now + DAY
        newer = walk(url, "/v1/invoices", {"created[gt]": account.config.now})
        assert newer


@pytest.mark.slow  # generates 100,000 invoices
def test_hundred_thousand_invoices_generate() -> None:
    account = generate_account(AccountConfig(seed=1, invoices=100_000))
    assert sum(1 for i in account.invoices if i.livemode and i.created <= account.now) >= 100_000


def test_paid_events_created_after_paid_at_when_asked(account: Account) -> None:
    def delays(acc: Account) -> list[int]:
        return [e.created - e.obj.paid_at for e in acc.events if e.type == "invoice.paid"]

    assert set(delays(account)) == {0}  # off by default: the event at the paid_at second
    late = generate_account(
        AccountConfig(seed=3, invoices=3000, late_paid_event_share=0.3, late_paid_event_max_seconds=300)
    )
    found = delays(late)
    share = sum(1 for d in found if d > 0) / len(found)
    assert 0.25 <= share <= 0.35 and min(found) == 0 and max(found) <= 300
    # The truth is what Stripe holds (paid_at), and an events reader sees a payment once its event exists.
    billable = set(expected_billed(late, late.now))
    cut = max(
        e.created
        for e in late.events
        if e.type == "invoice.paid"
        and e.obj.id in billable
        and e.created > e.obj.paid_at
        and e.created <= late.now
    )
    pending = {e.obj.id for e in late.events if e.type == "invoice.paid" and e.obj.paid_at < cut <= e.created}
    everything = expected_billed(late, cut)
    seen = expected_billed(late, cut, paid_events_before=cut)
    assert set(everything) - set(seen) == pending & set(everything) != set()
