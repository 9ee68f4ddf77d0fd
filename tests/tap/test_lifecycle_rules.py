"""The lifecycle rules on Stripe-shaped payloads (Stripe's own example objects, current and pre-2025)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from tap_stripe_billing import lifecycle as lc
from tap_stripe_billing import prorations as pr
from tap_stripe_billing import refunds
from tap_stripe_billing.records import PriceInfo, price_info_from_payload

from tests.tap.payloads import fixture, line


def price(
    pid: str, amount: int, *, interval: str = "month", count: int = 1, nickname: str | None = None
) -> Any:
    p = fixture("price")
    p.update(id=pid, unit_amount=amount, unit_amount_decimal=str(amount), nickname=nickname, currency="usd")
    p.update(transform_quantity=None)  # the example object's placeholder would divide every quantity
    p["recurring"].update(interval=interval, interval_count=count)
    return p


def plan(pid: str, amount: int, *, nickname: str | None = None) -> Any:
    p = fixture("plan")
    p.update(id=pid, amount=amount, amount_decimal=str(amount), interval="month", interval_count=1)
    p.update(nickname=nickname, currency="usd", billing_scheme="per_unit")
    return p


def item(si: str, p: dict[str, Any], qty: int = 1) -> dict[str, Any]:
    it = fixture("subscription_item")
    it.update(id=si, price=p, plan=None, quantity=qty)
    return it


def subscription(items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    sub = fixture("subscription")
    sub.update(id="sub_1", customer="cus_1", currency="usd", livemode=True, **extra)
    sub["items"] = {"object": "list", "data": items, "has_more": False}
    return sub


BASIC = price("price_basic", 1000, nickname="Basic")
PRO = price("price_pro", 3000, nickname="Pro")
PRO_Q = price("price_pro_q", 9000, count=3, nickname="Pro quarterly")
PRO_Y = price("price_pro_y", 30000, interval="year", nickname="Pro yearly")


def change(before: list[lc.Item], after: list[lc.Item]) -> dict[str, Any] | str:
    return lc.change_record(
        change_id="evt_1",
        subscription_id="sub_1",
        customer_id="cus_1",
        changed_at=1_790_000_000,
        currency="usd",
        before=before,
        after=after,
    )


def snapshot(sub: dict[str, Any]) -> list[lc.Item]:
    return lc.subscription_items(sub, price_info_from_payload)


# -- MRR and change detection -------------------------------------------------------------------------
def test_mrr_divides_by_the_billing_length_and_sums_items() -> None:
    items = snapshot(subscription([item("si_a", PRO_Q, 2), item("si_b", BASIC)]))
    assert lc.mrr(items, "usd") == Decimal("70.0000")  # 2 x 90 / 3 + 10
    yearly = snapshot(subscription([item("si_a", PRO_Y)]))
    assert lc.mrr(yearly, "usd") == Decimal("25.0000")
    assert lc.mrr([("si", PriceInfo("p", unit_amount=500, interval="week", interval_count=1), 1)], "jpy") == (
        Decimal(500) / Decimal("0.2300")
    ).quantize(Decimal("0.0001"))


def test_upgrade_from_current_shape_previous_attributes() -> None:
    sub = subscription([item("si_a", PRO), item("si_b", BASIC)])
    previous = {"items": {"object": "list", "data": [item("si_a", BASIC), item("si_b", BASIC)]}}
    before = lc.previous_items(previous, sub, price_info_from_payload)
    assert before is not None
    record = change(before, snapshot(sub))
    assert isinstance(record, dict)
    assert record["direction"] == "upgraded"
    assert (record["mrr_before"], record["mrr_after"]) == (Decimal("20.0000"), Decimal("40.0000"))
    assert record["amount"] == Decimal("40.00")
    assert (record["plan_level"], record["previous_plan_level"]) == ("Pro", "Basic")
    assert record["billing_length_months"] == Decimal(1)
    assert record["changed_at"] == "2026-09-21T14:13:20+00:00"


def test_quantity_decrease_is_a_downgrade_legacy_shape() -> None:
    sub = subscription([item("si_a", PRO, 2)])
    sub.pop("items")
    sub.update(plan=plan("price_pro", 3000, nickname="Pro"), quantity=2)  # pre-2025 single-item payload
    before = lc.previous_items({"quantity": 3}, sub, price_info_from_payload)
    assert before is not None and before[0][2] == 3
    record = change(before, snapshot(sub))
    assert isinstance(record, dict)
    assert record["direction"] == "downgraded"
    assert (record["mrr_before"], record["mrr_after"], record["amount"]) == (
        Decimal("90.0000"),
        Decimal("60.0000"),
        Decimal("60.00"),
    )


def test_legacy_plan_swap_reads_the_old_plan() -> None:
    sub = subscription([item("si_a", PRO)])
    before = lc.previous_items(
        {"plan": plan("price_basic", 1000, nickname="Basic")}, sub, price_info_from_payload
    )
    assert before is not None
    record = change(before, snapshot(sub))
    assert isinstance(record, dict) and record["direction"] == "upgraded"
    assert record["previous_plan_level"] == "Basic"


@pytest.mark.parametrize(
    "previous",
    [
        {"current_period_start": 1, "current_period_end": 2, "latest_invoice": "in_1"},  # renewal
        {"status": "trialing", "trial_end": 5},  # trial ended
        {"metadata": {}},
        {"cancel_at_period_end": False},
    ],
)
def test_updates_without_item_changes_are_not_changes(previous: dict[str, Any]) -> None:
    assert lc.previous_items(previous, subscription([item("si_a", PRO)]), price_info_from_payload) is None


def test_equal_mrr_swap_is_not_a_change() -> None:
    sub = subscription([item("si_a", PRO_Q)])
    previous = {"items": {"data": [item("si_a", PRO)]}}
    before = lc.previous_items(previous, sub, price_info_from_payload)
    assert before is not None
    assert change(before, snapshot(sub)) == lc.LifecycleReason.EQUAL_MRR


def test_undo_change_from_proration_lines() -> None:
    prices = {p["id"]: price_info_from_payload(p) for p in (BASIC, PRO)}
    after = snapshot(subscription([item("si_a", PRO, 2), item("si_b", BASIC)]))
    credit = line(-1500, price_id="price_basic", proration=True)
    charge = line(2500, price_id="price_pro", proration=True)
    for ln, si, qty in ((credit, "si_a", 1), (charge, "si_a", 2)):
        ln["parent"]["subscription_item_details"]["subscription_item"] = si
        ln["quantity"] = qty
    lines = pr.change_lines([credit, charge])
    before = pr.undo_change(after, lines, lambda pid, _embedded: prices.get(pid))
    assert [(si, p.price_id, q) for si, p, q in before] == [
        ("si_a", "price_basic", 1),
        ("si_b", "price_basic", 1),
    ]
    # an item added by the change (only a charge line) was not there before
    added = line(900, price_id="price_basic", proration=True)
    added["parent"]["subscription_item_details"]["subscription_item"] = "si_b"
    before = pr.undo_change(after, pr.change_lines([added]), lambda pid, _e: prices.get(pid))
    assert [si for si, _, _ in before] == ["si_a"]


# -- cancellation reasons ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("details", "label"),
    [
        ({"feedback": "too_expensive", "reason": "cancellation_requested", "comment": None}, "Too expensive"),
        ({"feedback": None, "reason": "cancellation_requested", "comment": None}, "Cancellation requested"),
        ({"feedback": None, "reason": "payment_failed", "comment": None}, "Payment failed"),
        (
            {"feedback": "switched_service", "reason": "cancellation_requested", "comment": "Budget cuts"},
            "Switched service — Budget cuts",
        ),
        ({"feedback": None, "reason": None, "comment": "Bye"}, "Bye"),
        ({"feedback": None, "reason": None, "comment": None}, None),
        ({"feedback": None, "reason": "something_new", "comment": None}, "something_new"),
    ],
)
def test_cancelation_reason(details: dict[str, Any], label: str | None) -> None:
    assert lc.cancelation_reason(details) == label
    sub = subscription(
        [item("si_a", PRO)], status="canceled", canceled_at=1_790_000_000, ended_at=1_790_000_000
    )
    sub["cancellation_details"] = details
    record = lc.canceled_record(sub, "a@example.com")
    assert record == {
        "subscription_id": "sub_1",
        "customer_id": "cus_1",
        "customer_email": "a@example.com",
        "canceled_at": "2026-09-21T14:13:20+00:00",
        "cancelation_reason": label,
    }


# -- refunds ------------------------------------------------------------------------------------------------
def test_refund_record_positive_exact_amount_and_links() -> None:
    refund = fixture("refund")
    refund.update(id="re_1", amount=12345, currency="kwd", payment_intent="pi_1", reason="duplicate")
    assert refunds.refund_link(refund) == ("payment_intent", "pi_1")
    invoice = fixture("invoice")
    invoice.update(id="in_1", customer="cus_1", currency="kwd", subscription=None)
    invoice["parent"] = {"type": "subscription_details", "subscription_details": {"subscription": "sub_1"}}
    record = refunds.refund_record(refund, invoice, "a@example.com")
    assert record["amount"] == Decimal("12.345") and str(record["amount"]) == "12.345"
    assert (record["invoice_id"], record["subscription_id"], record["currency"]) == ("in_1", "sub_1", "kwd")
    assert record["refunded_at"] == "2009-02-13T23:31:30+00:00"
    refund.update(payment_intent=None)
    assert refunds.refund_link(refund) == ("charge", refund["charge"])
    refund.update(charge=None)
    assert refunds.refund_link(refund) is None


def test_a_payment_intent_that_paid_several_invoices_is_attributed_by_the_documented_rule() -> None:
    """Largest amount paid; ties: oldest invoice payment, then smallest id; paid before unpaid."""

    def ip(ip_id: str, invoice_id: str, amount: int, created: int, status: str = "paid") -> dict[str, Any]:
        payment = fixture("invoice_payment")
        payment.update(id=ip_id, amount_paid=amount, created=created, status=status)
        payment["payment"] = {"type": "payment_intent", "payment_intent": "pi_1"}
        payment["invoice"] = {**fixture("invoice"), "id": invoice_id}
        return payment

    one = [ip("inpay_a", "in_a", 900, 10)]
    assert (refunds.attributed_invoice(one) or {})["id"] == "in_a"
    several = [
        ip("inpay_a", "in_a", 900, 10),
        ip("inpay_b", "in_b", 4900, 20),
        ip("inpay_c", "in_c", 4900, 5),
    ]
    assert (refunds.attributed_invoice(several) or {})["id"] == "in_c"  # tie on amount: the oldest
    unpaid = [ip("inpay_d", "in_d", 99_999, 1, status="open"), ip("inpay_a", "in_a", 900, 10)]
    assert (refunds.attributed_invoice(unpaid) or {})["id"] == "in_a"
    assert refunds.attributed_invoice([]) is None
    not_expanded = ip("inpay_e", "in_e", 900, 10)
    not_expanded["invoice"] = "in_e"
    assert refunds.attributed_invoice([not_expanded]) is None


def test_a_cancellation_at_period_end_is_timed_when_the_subscription_ended() -> None:
    """Stripe's ``canceled_at`` is the request (the Customer Portal's default cancels at period end):
    the record's time is ``ended_at``, the moment of ``customer.subscription.deleted``."""
    requested, ended = 1_790_000_000, 1_791_000_000
    sub = subscription(
        [item("si_a", PRO)],
        status="canceled",
        cancel_at_period_end=True,
        cancel_at=ended,
        canceled_at=requested,
        ended_at=ended,
    )
    assert lc.canceled_at(sub) == ended
    assert lc.canceled_record(sub, None)["canceled_at"] == "2026-10-03T04:00:00+00:00"
    sub.update(ended_at=None)  # a payload without ended_at: canceled_at
    assert lc.canceled_at(sub) == requested


def _si_line(amount: int, price_id: str, si: str, qty: int, *, proration: bool, start: int) -> Any:
    ln = line(amount, price_id=price_id, proration=proration, start=start, end=start + 1_000_000)
    ln["parent"]["subscription_item_details"]["subscription_item"] = si
    ln["quantity"] = qty
    ln["id"] = f"il_{si}_{start}_{amount}"
    return ln


def test_deferred_prorations_on_a_renewal_invoice_are_changes() -> None:
    """Stripe's default (create_prorations) puts a change's proration lines on the next renewal invoice:
    each group of lines with one period start is one change, made at that start; the renewal's own
    lines are none."""
    renewal = [
        _si_line(3000, "price_pro", "si_a", 1, proration=False, start=2_000),
        _si_line(-500, "price_basic", "si_a", 1, proration=True, start=1_500),
        _si_line(1500, "price_pro", "si_a", 1, proration=True, start=1_500),
        _si_line(-300, "price_pro", "si_a", 1, proration=True, start=1_800),
        _si_line(600, "price_pro", "si_a", 2, proration=True, start=1_800),
    ]
    changes = pr.invoiced_changes(pr.change_lines(renewal))
    assert [(at, [ln.amount for ln in group]) for at, group in changes] == [
        (1_500, [-500, 1500]),
        (1_800, [-300, 600]),
    ]
    swap = [  # an interval change resets the cycle: a credit proration and a regular charge, one start
        _si_line(-2000, "price_pro", "si_a", 1, proration=True, start=1_700),
        _si_line(9000, "price_pro_q", "si_a", 1, proration=False, start=1_700),
    ]
    assert [len(g) for _, g in pr.invoiced_changes(pr.change_lines(swap))] == [2]


def test_a_later_change_without_an_invoice_does_not_disguise_an_invoiced_one() -> None:
    """Basic -> Pro invoiced at once, then Pro -> Basic with proration_behavior=none (no invoice). Walked
    back from the current items (Basic), the upgrade is still an upgrade: its "after" comes from its own
    charge line, not from the current items."""
    prices = {p["id"]: price_info_from_payload(p) for p in (BASIC, PRO)}
    current = snapshot(subscription([item("si_a", BASIC)]))
    upgrade = pr.change_lines(
        [
            _si_line(-500, "price_basic", "si_a", 1, proration=True, start=1_500),
            _si_line(1500, "price_pro", "si_a", 1, proration=True, start=1_500),
        ]
    )
    lookup = lambda pid, _embedded: prices.get(pid)  # noqa: E731
    after = pr.redo_change(current, upgrade, lookup)
    before = pr.undo_change(after, upgrade, lookup)
    assert [p.price_id for _, p, _ in after] == ["price_pro"]
    assert [p.price_id for _, p, _ in before] == ["price_basic"]
    record = change(before, after)
    assert isinstance(record, dict) and record["direction"] == "upgraded"
    # an item the change added (charge only) and one it left alone
    current = snapshot(subscription([item("si_a", BASIC)]))
    added = pr.change_lines([_si_line(900, "price_pro", "si_b", 3, proration=True, start=1_500)])
    assert [(si, p.price_id, q) for si, p, q in pr.redo_change(current, added, lookup)] == [
        ("si_a", "price_basic", 1),
        ("si_b", "price_pro", 3),
    ]
