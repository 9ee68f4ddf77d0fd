"""Lifecycle rules pinned where mutation testing (scripts/mutation.sh lifecycle) found them loose.

Pure and fast: the public functions of ``lifecycle.py`` on Stripe-shaped payloads, no HTTP.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tap_stripe_billing import lifecycle as lc
from tap_stripe_billing import refunds
from tap_stripe_billing.records import PriceInfo, price_info_from_payload

from tests.tap.payloads import fixture, line

BASIC = PriceInfo("price_basic", nickname="Basic", interval="month", interval_count=1, unit_amount=1000)
PRO_Q = PriceInfo("price_pro_q", nickname="Pro Q", interval="month", interval_count=3, unit_amount=9000)
METERED = PriceInfo("price_usage", nickname="Usage", interval="month", interval_count=1, usage_type="metered")
ONE_OFF = PriceInfo("price_setup", nickname="Setup", unit_amount=50_000)  # no interval: not recurring
TIERED_UNKNOWN = PriceInfo(  # tiered, tiers not expanded: amount unknown, and not metered
    "price_tiered", interval="month", interval_count=1, billing_scheme="tiered", tiers_mode="volume"
)


def _change(before: list[lc.Item], after: list[lc.Item], **extra: Any) -> dict[str, Any] | str:
    return lc.change_record(
        change_id="evt_9",
        subscription_id="sub_9",
        customer_id="cus_9",
        changed_at=1_790_000_000,
        currency=extra.pop("currency", "usd"),
        before=before,
        after=after,
        **extra,
    )


# -- items -------------------------------------------------------------------------------------------------
def _item(**fields: Any) -> dict[str, Any]:
    it = fixture("subscription_item")
    it.update(price=None, plan=None)
    it.update(fields)
    return it


def _price_payload(pid: str, amount: int) -> dict[str, Any]:
    p = fixture("price")
    p.update(
        id=pid, unit_amount=amount, unit_amount_decimal=str(amount), currency="usd", transform_quantity=None
    )
    p["recurring"].update(interval="month", interval_count=1)
    return p


def test_items_skip_priceless_items_and_read_legacy_plans_and_default_quantity() -> None:
    plan = fixture("plan")
    plan.update(id="plan_legacy", amount=700, amount_decimal="700", interval="month", interval_count=1)
    plan.update(billing_scheme="per_unit", currency="usd")
    data = [
        _item(id="si_none", plan="plan_as_an_id"),  # neither an expanded price nor plan: skipped
        _item(id="si_plan", plan=plan, quantity=None),  # a legacy item: its plan; no quantity: 1
        _item(id=None, price=_price_payload("price_x", 100), quantity=4),
    ]
    items = lc.items_of({"object": "list", "data": data}, price_info_from_payload)
    assert [(si, p.price_id, q) for si, p, q in items] == [("si_plan", "plan_legacy", 1), ("", "price_x", 4)]


def test_legacy_subscription_without_items_or_quantity_is_one_unit_of_its_plan() -> None:
    plan = fixture("plan")
    plan.update(id="plan_legacy", amount=700, amount_decimal="700", interval="month", interval_count=1)
    sub = {"id": "sub_9", "items": None, "plan": plan, "quantity": None}
    items = lc.subscription_items(sub, price_info_from_payload)
    assert [(si, p.price_id, q) for si, p, q in items] == [("", "plan_legacy", 1)]


# -- amounts and MRR -------------------------------------------------------------------------------------
def test_item_amount_metered_comes_from_its_usage_line_and_nothing_else_does() -> None:
    usage = {"price_usage": Decimal(2500), "price_basic": Decimal(1), "price_tiered": Decimal(3)}
    assert lc.item_amount(METERED, 1, usage) == Decimal(2500)
    assert lc.item_amount(METERED, 1, {}) is None
    assert lc.item_amount(METERED, 1) is None
    assert lc.item_amount(BASIC, 2, usage) == Decimal(2000)  # a licensed price keeps its own amount
    assert lc.item_amount(BASIC, 2, {}) == Decimal(2000)
    assert lc.item_amount(TIERED_UNKNOWN, 2, usage) is None  # unknown tiers are no usage amount
    assert lc.item_amount(TIERED_UNKNOWN, 2) is None


def test_mrr_counts_items_after_a_one_off_item_and_uses_usage_amounts() -> None:
    assert lc.mrr([("si_a", ONE_OFF, 1), ("si_b", BASIC, 1)], "usd") == Decimal("10.0000")
    usage = {"price_usage": Decimal(2500)}
    assert lc.mrr([("si_a", BASIC, 1), ("si_b", METERED, 1)], "usd", usage) == Decimal("35.0000")
    assert lc.mrr([("si_a", BASIC, 1), ("si_b", METERED, 1)], "usd") is None
    assert lc.mrr([("si_a", TIERED_UNKNOWN, 1)], "usd") is None


def test_recurring_amount_uses_usage_amounts_and_counts_unknown_as_zero() -> None:
    usage = {"price_usage": Decimal(2500)}
    assert lc.recurring_amount([("a", BASIC, 1), ("b", METERED, 1)], "usd", usage) == Decimal("35.00")
    assert lc.recurring_amount([("a", BASIC, 1), ("b", METERED, 1)], "usd") == Decimal("10.00")
    assert lc.recurring_amount([("b", METERED, 1)], "usd") == Decimal("0.00")
    assert lc.recurring_amount([], "usd") == Decimal("0.00")


def test_metered_prices_are_only_the_metered_ones_of_either_side() -> None:
    assert lc.metered_prices([("a", BASIC, 1), ("b", METERED, 1)], [("c", PRO_Q, 1)]) == {"price_usage"}
    assert lc.metered_prices([("a", BASIC, 1)]) == set()


# -- last usage lines ------------------------------------------------------------------------------------
def _usage_line(amount: int, price_id: str = "price_usage", *, proration: bool = False) -> dict[str, Any]:
    return line(amount, price_id=price_id, proration=proration)


def _invoice(created: int | None, lines: list[dict[str, Any]]) -> dict[str, Any]:
    invoice = fixture("invoice")
    invoice.update(id=f"in_{created}", created=created)
    invoice["lines"] = {"object": "list", "data": lines, "has_more": False}
    return invoice


def test_last_usage_amount_is_the_newest_regular_line_at_or_before_the_change() -> None:
    wanted = {"price_usage"}
    invoices = [
        _invoice(3000, [_usage_line(9999)]),  # after the change: ignored (listed first)
        _invoice(1000, [_usage_line(5000), _usage_line(4000, "price_other")]),
        _invoice(2000, [_usage_line(-700, proration=True), _usage_line(300)]),  # at the change: counts
    ]
    assert lc.last_usage_amounts(invoices, wanted, 2000) == {"price_usage": Decimal(300)}
    assert lc.last_usage_amounts(invoices, wanted, 1999) == {"price_usage": Decimal(5000)}
    assert lc.last_usage_amounts(invoices, wanted, 999) == {}
    assert lc.last_usage_amounts(invoices, {"price_other"}, 2000) == {"price_other": Decimal(4000)}


def test_last_usage_amount_reads_only_listed_lines_and_treats_no_created_as_the_oldest() -> None:
    assert lc.last_usage_amounts([{"created": 5, "lines": None}], {"price_usage"}, 10) == {}
    undated = _invoice(None, [_usage_line(100)])
    dated = _invoice(1, [_usage_line(200)])
    assert lc.last_usage_amounts([undated, dated], {"price_usage"}, 10) == {"price_usage": Decimal(200)}
    assert lc.last_usage_amounts([undated], {"price_usage"}, 0) == {"price_usage": Decimal(100)}


# -- changes -----------------------------------------------------------------------------------------------
def test_change_record_is_exactly_the_documented_record() -> None:
    record = _change([("si_a", BASIC, 1)], [("si_a", PRO_Q, 2)], currency="USD")
    assert record == {
        "change_id": "evt_9",
        "subscription_id": "sub_9",
        "customer_id": "cus_9",
        "customer_email": None,
        "changed_at": "2026-09-21T14:13:20+00:00",
        "direction": "upgraded",
        "amount": Decimal("180.00"),
        "currency": "usd",
        "billing_length_months": Decimal(3),
        "plan_level": "Pro Q",
        "previous_plan_level": "Basic",
        "mrr_before": Decimal("10.0000"),
        "mrr_after": Decimal("60.0000"),
    }


def test_change_needs_items_on_both_sides_and_known_amounts() -> None:
    assert _change([], [("si_a", BASIC, 1)]) == lc.LifecycleReason.NO_ITEM_CHANGE
    assert _change([("si_a", BASIC, 1)], []) == lc.LifecycleReason.NO_ITEM_CHANGE
    unknown = [("si_a", METERED, 1)]
    assert _change(unknown, [("si_a", BASIC, 1)]) == lc.LifecycleReason.AMOUNT_UNKNOWN
    assert _change([("si_a", BASIC, 1)], unknown) == lc.LifecycleReason.AMOUNT_UNKNOWN


def test_a_change_with_metered_items_uses_their_usage_amounts_on_both_sides() -> None:
    usage = {"price_usage": Decimal(2500)}
    before = [("si_a", BASIC, 1), ("si_b", METERED, 1)]
    after = [("si_a", BASIC, 3), ("si_b", METERED, 1)]
    record = _change(before, after, metered=usage)
    assert isinstance(record, dict)
    assert (record["mrr_before"], record["mrr_after"]) == (Decimal("35.0000"), Decimal("55.0000"))
    assert record["amount"] == Decimal("55.00")
    assert record["direction"] == "upgraded"


# -- cancellations and refunds -----------------------------------------------------------------------------
def test_canceled_at_is_none_without_either_time() -> None:
    assert lc.canceled_at({"id": "sub_9", "ended_at": None, "canceled_at": None}) is None


def test_refund_link_reads_expanded_objects() -> None:
    expanded = {"payment_intent": {"id": "pi_9"}, "charge": "ch_9"}
    assert refunds.refund_link(expanded) == ("payment_intent", "pi_9")
    assert refunds.refund_link({"payment_intent": None, "charge": {"id": "ch_9"}}) == ("charge", "ch_9")


def _ip(ip_id: str, invoice_id: str, amount: int | None, created: int | None) -> dict[str, Any]:
    payment = fixture("invoice_payment")
    payment.update(id=ip_id, amount_paid=amount, created=created, status="paid")
    payment["invoice"] = {**fixture("invoice"), "id": invoice_id}
    return payment


def test_attribution_prefers_the_larger_payment_even_when_newer() -> None:
    payments = [_ip("inpay_1", "in_small_old", 100, 1), _ip("inpay_2", "in_big_new", 5000, 9)]
    assert (refunds.attributed_invoice(payments) or {})["id"] == "in_big_new"


def test_attribution_missing_amount_or_time_count_as_zero_and_ties_go_to_the_smallest_id() -> None:
    no_amount = [_ip("inpay_1", "in_none", None, 1), _ip("inpay_2", "in_one_cent", 1, 2)]
    assert (refunds.attributed_invoice(no_amount) or {})["id"] == "in_one_cent"
    no_time = [_ip("inpay_b", "in_undated", 100, None), _ip("inpay_a", "in_dated", 100, 1)]
    assert (refunds.attributed_invoice(no_time) or {})["id"] == "in_undated"
    tie = [_ip("inpay_b", "in_b", 100, 1), _ip("inpay_a", "in_a", 100, 1), _ip("inpay_c", "in_c", 100, 1)]
    assert (refunds.attributed_invoice(tie) or {})["id"] == "in_a"


def _refund(**fields: Any) -> dict[str, Any]:
    refund = fixture("refund")
    refund.update(id="re_9", amount=1999, created=1_790_000_000, reason="requested_by_customer")
    refund.update(fields)
    return refund


def _refunded_invoice(currency: str | None) -> dict[str, Any]:
    invoice = fixture("invoice")
    invoice.update(id="in_9", customer="cus_9", currency=currency, subscription=None)
    invoice["parent"] = {"type": "subscription_details", "subscription_details": {"subscription": "sub_9"}}
    return invoice


def test_refund_record_is_exactly_the_documented_record() -> None:
    record = refunds.refund_record(_refund(currency="EUR"), _refunded_invoice("usd"), "a@example.com")
    assert record == {
        "refund_id": "re_9",
        "invoice_id": "in_9",
        "subscription_id": "sub_9",
        "customer_id": "cus_9",
        "customer_email": "a@example.com",
        "refunded_at": "2026-09-21T14:13:20+00:00",
        "amount": Decimal("19.99"),
        "currency": "eur",  # the refund's own currency first
        "reason": "requested_by_customer",
    }


def test_refund_currency_falls_back_to_the_invoice_and_a_missing_amount_is_zero() -> None:
    record = refunds.refund_record(_refund(currency=None, amount=None), _refunded_invoice("JPY"), None)
    assert (record["currency"], record["amount"]) == ("jpy", Decimal(0))
    record = refunds.refund_record(_refund(currency=None), _refunded_invoice(None), None)
    assert record["currency"] == ""  # nowhere: empty, never an invented currency


def test_last_usage_amount_on_a_tie_in_seconds_keeps_the_first_listed() -> None:
    """Stripe lists invoices newest first (the caller passes ``GET /v1/invoices`` in its order): of two
    created in the same second, the first listed is the newer."""
    newer, older = _invoice(1000, [_usage_line(800)]), _invoice(1000, [_usage_line(600)])
    assert lc.last_usage_amounts([newer, older], {"price_usage"}, 1000) == {"price_usage": Decimal(800)}
