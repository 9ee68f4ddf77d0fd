"""Edges of the record, state and window rules that whole runs rarely reach (found by mutation testing,
``scripts/mutation.sh``): legacy Plan fields, lines without a price, slimmed backfill pages, boundaries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from tap_stripe_billing import money
from tap_stripe_billing import records as rec
from tap_stripe_billing import slim as slim_module
from tap_stripe_billing import state as st
from tap_stripe_billing.slim import slim_invoice
from tap_stripe_billing.windows import DAY, ReadPlan, WindowSettings, in_window, plan_read, time_slices

from tests.tap import payloads as p

T0 = 1_790_000_000


# -- prices and plans -----------------------------------------------------------------------------------
def test_legacy_plan_fields_are_read_at_the_top_level() -> None:
    plan = {
        "id": "plan_gold",
        "object": "plan",
        "interval": "year",
        "interval_count": 2,
        "amount": 12000,
        "currency": "EUR",
        "nickname": None,
        "product": {"id": "prod_1", "name": "Gold"},
    }
    assert rec.price_info_from_payload(plan) == rec.PriceInfo(
        price_id="plan_gold",
        product_name="Gold",
        interval="year",
        interval_count=2,
        unit_amount=12000,
        currency="eur",
    )


def test_price_fields_prefer_recurring_and_unit_amount() -> None:
    price = {
        "id": "price_1",
        "recurring": {"interval": "month", "interval_count": 3},
        "interval": "year",
        "interval_count": 9,
        "unit_amount": 0,  # a free price: 0 is an amount, not a missing one
        "amount": 500,
        "currency": "usd",
        "product": "prod_1",
        "lookup_key": "pro_q",
    }
    info = rec.price_info_from_payload(price)
    assert (info.interval, info.interval_count, info.unit_amount, info.currency) == ("month", 3, 0, "usd")
    assert info.product_name is None and info.plan_level() == "pro_q"
    bare = rec.price_info_from_payload({"id": "price_2"})
    assert bare == rec.PriceInfo(price_id="price_2")


@pytest.mark.parametrize(
    ("interval", "count", "months"),
    [
        ("month", None, "1"),
        ("month", 0, "1"),
        ("year", 1, "12"),
        ("week", 1, "0.23"),
        ("day", 30, "0.9856"),
    ],
)
def test_billing_length_defaults_to_one_interval(interval: str, count: int | None, months: str) -> None:
    value = money.billing_length_months(interval, count)
    assert value == Decimal(months) and str(value) == months


# -- invoice fields ----------------------------------------------------------------------------------------
def test_customer_id_from_an_id_an_expanded_customer_or_nothing() -> None:
    assert rec.customer_id({"customer": "cus_1"}) == "cus_1"
    assert rec.customer_id({"customer": {"id": "cus_2", "object": "customer", "email": "a@b.c"}}) == "cus_2"
    assert rec.customer_id({"customer": None}) is None
    assert rec.customer_id({}) is None


def test_filter_trusts_status_unless_told_the_payload_is_a_paid_event() -> None:
    stale = p.invoice(status="open")  # paid_at set, status not yet "paid"
    assert rec.filter_reason(stale, rec.Rules()) == rec.FilterReason.NOT_PAID
    assert rec.filter_reason(stale, rec.Rules(), from_paid_event=True) is None


# -- lines --------------------------------------------------------------------------------------------------
def test_legacy_line_with_price_and_plan() -> None:
    line = p.legacy_line(700, proration=True)
    parsed = rec.parse_line(line)
    assert parsed.is_proration is True and parsed.is_subscription is True
    assert parsed.price_id == "price_A" and parsed.embedded_price == line["price"]
    assert (parsed.amount, parsed.period_start, parsed.period_end) == (700, 1_700_000_000, 1_702_592_000)


def test_legacy_line_with_only_a_plan_or_a_price_id() -> None:
    plan = {"id": "plan_old", "interval": "month", "amount": 900}
    only_plan = rec.parse_line({"type": "subscription", "amount": 900, "plan": plan})
    assert only_plan.price_id == "plan_old" and only_plan.embedded_price == plan
    assert only_plan.is_proration is False
    id_and_plan = rec.parse_line({"type": "subscription", "amount": 900, "price": "price_x", "plan": plan})
    assert id_and_plan.price_id == "price_x" and id_and_plan.embedded_price == plan


def test_line_without_price_or_amount() -> None:
    parsed = rec.parse_line({"type": "invoiceitem"})
    assert parsed == rec.Line(0, False, False, None, None, None, None)
    no_id = rec.parse_line({"type": "subscription", "amount": 5, "price": {"object": "price"}})
    assert no_id.price_id is None and no_id.embedded_price == {"object": "price"}


def _line(amount: int, *, sub: bool = False, proration: bool = False) -> rec.Line:
    return rec.Line(amount, sub, proration, f"price_{amount}", None, None, None)


def test_main_line_skips_credits_and_zero_prorations() -> None:
    credit, zero, item = _line(-500, proration=True), _line(0, proration=True), _line(300)
    assert rec.main_line([credit, zero, item]) is item
    one = _line(1, proration=True)
    assert rec.main_line([credit, one, item]) is one  # a positive proration beats a one-off line
    tiny = _line(1)
    assert rec.main_line([_line(0), tiny]) is tiny
    assert rec.main_line([_line(0), _line(-3)]) is None
    assert rec.main_line([]) is None


# -- building records ----------------------------------------------------------------------------------------
def _no_price(price_id: str, embedded: Any) -> rec.PriceInfo | None:
    raise AssertionError("no price should be looked up")


def test_record_of_an_invoice_without_lines_or_prices() -> None:
    invoice = p.invoice(lines=[])
    invoice.pop("currency")
    invoice.pop("amount_paid")
    record = rec.build_record(invoice, [], _no_price, None)
    assert record["currency"] == "" and record["amount_minor"] == 0 and record["amount"] == Decimal("0.00")
    assert record["plan_level"] is None and record["billing_length_months"] is None
    assert record["period_start"] is None and record["period_end"] is None
    unpriced = rec.build_record(p.invoice(), [{"type": "invoiceitem", "amount": 4990}], _no_price, None)
    assert unpriced["plan_level"] is None and unpriced["billing_length_months"] is None


# -- slimmed backfill pages ----------------------------------------------------------------------------------
def test_slim_invoice_keeps_exactly_what_the_rules_read() -> None:
    invoice = p.invoice(lines=[p.line(4990), p.line(-100, proration=True)], has_more=True)
    invoice["customer"] = {"id": "cus_1", "object": "customer", "email": "a@b.c", "name": "Ann", "phone": "1"}
    slim = slim_invoice(invoice)
    assert set(slim) == set(invoice) & slim_module._INVOICE_KEYS
    assert slim["customer"] == {"id": "cus_1", "object": "customer", "email": "a@b.c"}
    assert slim["lines"] == {
        "object": "list",
        "data": [
            {k: v for k, v in ln.items() if k in slim_module._LINE_KEYS} for ln in invoice["lines"]["data"]
        ],
        "has_more": True,
    }
    assert all(ln.keys() <= slim_module._LINE_KEYS for ln in slim["lines"]["data"])
    assert len(slim["lines"]["data"]) == 2 and "pricing" in slim["lines"]["data"][0]

    def lookup(price_id: str, embedded: Any) -> rec.PriceInfo:
        return rec.PriceInfo(price_id, nickname="Pro", interval="month", interval_count=1)

    full = rec.build_record(invoice, invoice["lines"]["data"], lookup, "a@b.c")
    assert rec.build_record(slim, slim["lines"]["data"], lookup, "a@b.c") == full
    assert rec.filter_reason(slim, rec.Rules()) is None


def test_slim_invoice_without_lines_or_expanded_customer() -> None:
    invoice = {"id": "in_1", "customer": "cus_1", "lines": {"data": [], "has_more": False}, "extra": 1}
    assert slim_invoice(invoice) == {
        "id": "in_1",
        "customer": "cus_1",
        "lines": {"object": "list", "data": [], "has_more": False},
    }
    assert slim_invoice({"id": "in_2", "lines": None}) == {"id": "in_2", "lines": None}


# -- state --------------------------------------------------------------------------------------------------
def test_timestamps_in_every_accepted_form(new_york: None) -> None:
    assert st.parse_timestamp("") is None
    assert st.parse_timestamp("2024-01-01T00:00:00z") == 1_704_067_200
    assert st.parse_timestamp("2024-01-01T00:00:00") == 1_704_067_200  # naive: UTC, not local time
    assert st.parse_timestamp(1_704_067_200.7) == 1_704_067_200
    aware = dt.datetime(2024, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert st.parse_timestamp(aware) == 1_704_067_200
    assert st.parse_timestamp(dt.datetime(2024, 1, 1)) == 1_704_067_200
    with pytest.raises(ValueError, match=r"^not a timestamp$"):
        st.parse_timestamp(True)


def test_bookmark_of_another_replication_key_is_ignored() -> None:
    state = {"replication_key": "created", "replication_key_value": "2024-01-01T00:00:00Z"}
    assert st.read_bookmark(state) is None
    assert st.read_bookmark(state, "created") == 1_704_067_200
    assert st.read_bookmark({"replication_key_value": "2024-01-01T00:00:00Z"}) == 1_704_067_200


def test_emitted_set_in_list_or_dict_form() -> None:
    assert st.read_emitted({"emitted": [["in_1", "5"], ["in_2", 6]]}) == {"in_1": 5, "in_2": 6}
    assert st.read_emitted({"emitted": {"in_1": 5}}) == {"in_1": 5}
    assert st.read_emitted({}) == {}


# -- windows ------------------------------------------------------------------------------------------------
S = WindowSettings()


def test_plan_uses_the_upper_bound_it_is_given() -> None:
    plan = plan_read(now=T0, bookmark=None, start_date=None, settings=S, upper=T0 - 1234)
    assert plan.upper == T0 - 1234


def test_bookmark_exactly_stale_after_days_old_falls_back_to_listing() -> None:
    edge = plan_read(now=T0, bookmark=T0 - 29 * DAY, start_date=None, settings=S)
    assert edge.mode == "backfill"
    assert plan_read(now=T0, bookmark=T0 - 29 * DAY + 1, start_date=None, settings=S).mode == "incremental"


def test_window_bounds_are_inclusive_below_and_exclusive_above() -> None:
    backfill = ReadPlan("backfill", upper=T0, created_gte=None, paid_from=T0 - 100, start_date=T0 - 200)
    assert in_window(T0 - 100, backfill) and not in_window(T0 - 101, backfill)
    assert in_window(T0 - 1, backfill) and not in_window(T0, backfill)
    incremental = ReadPlan("incremental", upper=T0, created_gte=T0 - 50, paid_from=None, start_date=T0 - 200)
    assert in_window(T0 - 200, incremental) and not in_window(T0 - 201, incremental)


def test_time_slices_edges() -> None:
    assert time_slices(0, 100, 1) == [(0, 100)]
    assert time_slices(0, 10, 3) == [(6, 10), (3, 6), (0, 3)]
    assert all(isinstance(edge, int) for s in time_slices(7, 1000, 7) for edge in s)
    assert time_slices(5, 5, 3) == [] and time_slices(6, 5, 3) == []
