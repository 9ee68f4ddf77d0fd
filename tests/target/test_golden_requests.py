"""Exact request strings for tricky records: the same record always gives these very bytes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from target_kissmetrics.errors import ConfigError, SkipRecord
from target_kissmetrics.events import EventBuilder
from target_kissmetrics.mapping import resolve_mappings
from target_kissmetrics.validation import check_mapping

from tests.target.singer_input import billed, canceled, changed, refunded

MAPPINGS = resolve_mappings(None)
T_BILLED = "_t=1709294400&_d=1"


def build(stream: str, record: dict[str, Any], *, lowercase: bool = True, fallback: bool = False) -> str:
    builder = EventBuilder(MAPPINGS[stream], lowercase_identity=lowercase, use_fallback=fallback)
    return builder.build(record).query


def skip_reason(stream: str, record: dict[str, Any], **kwargs: Any) -> str:
    with pytest.raises(SkipRecord) as info:
        build(stream, record, **kwargs)
    return info.value.reason


BILLED_USD = (
    f"_p=alice%40example.com&_n=Subscription%20Billed&{T_BILLED}"
    "&Billing%20Amount=49.90&Stripe%20Invoice%20ID=in_1&Subscription%20Billing%20Amount=49.90"
    "&Subscription%20Billing%20Currency=USD&Subscription%20Billing%20Length=1"
    "&Subscription%20Plan%20Level=Pro"
)


def test_billed_usd_float_and_decimal_give_the_same_bytes() -> None:
    assert build("subscription_billed", billed(amount=49.9)) == BILLED_USD
    assert build("subscription_billed", billed(amount=Decimal("49.90"))) == BILLED_USD
    assert build("subscription_billed", billed(amount="49.9")) == BILLED_USD


def test_billed_jpy() -> None:
    query = build("subscription_billed", billed("in_jpy", amount=Decimal("5000"), currency="jpy"))
    assert query == (
        f"_p=alice%40example.com&_n=Subscription%20Billed&{T_BILLED}"
        "&Billing%20Amount=5000&Stripe%20Invoice%20ID=in_jpy&Subscription%20Billing%20Amount=5000"
        "&Subscription%20Billing%20Currency=JPY&Subscription%20Billing%20Length=1"
        "&Subscription%20Plan%20Level=Pro"
    )


def test_billed_kwd_three_decimals() -> None:
    query = build("subscription_billed", billed("in_kwd", amount=Decimal("12.3"), currency="kwd"))
    assert "&Billing%20Amount=12.300&" in query
    assert "&Subscription%20Billing%20Amount=12.300&" in query
    assert "&Subscription%20Billing%20Currency=KWD&" in query


def test_weekly_and_yearly_billing_lengths() -> None:
    weekly = build("subscription_billed", billed(billing_length_months=Decimal("0.2300")))
    assert "&Subscription%20Billing%20Length=0.23&" in weekly
    yearly = build("subscription_billed", billed(billing_length_months=12.0))
    assert "&Subscription%20Billing%20Length=12&" in yearly


def test_unicode_plan_with_commas_and_colons_is_percent_encoded() -> None:
    query = build("subscription_billed", billed(plan_level="Pro, Plan: Größe 🚀&=+"))
    assert query.endswith(
        "&Subscription%20Plan%20Level=Pro%2C%20Plan%3A%20Gr%C3%B6%C3%9Fe%20%F0%9F%9A%80%26%3D%2B"
    )


def test_padded_upper_case_email() -> None:
    record = billed(customer_email="  ALICE@Example.COM \t")
    assert build("subscription_billed", record) == BILLED_USD
    assert build("subscription_billed", record, lowercase=False).startswith("_p=ALICE%40Example.COM&")


def test_no_email_is_skipped_unless_falling_back_to_customer_id() -> None:
    for email in (None, "", "   "):
        assert skip_reason("subscription_billed", billed(customer_email=email)) == "no_identity"
    query = build("subscription_billed", billed(customer_email=None), fallback=True)
    assert query.startswith("_p=cus_1&_n=Subscription%20Billed&")


def test_email_with_comma_or_colon_is_an_invalid_identity_not_rewritten() -> None:
    for email in ("a,b@example.com", "a:b@example.com"):
        reason = skip_reason("subscription_billed", billed(customer_email=email), fallback=True)
        assert reason == "invalid_identity"


def test_bad_record_data_is_skipped_with_a_reason() -> None:
    assert (
        skip_reason("subscription_billed", billed(paid_at="2008-12-31T23:59:59Z")) == "timestamp_before_2009"
    )
    assert skip_reason("subscription_billed", billed(paid_at=None)) == "missing_timestamp"
    assert skip_reason("subscription_billed", billed(paid_at="soon")) == "invalid_timestamp"
    assert skip_reason("subscription_billed", billed(amount="lots")) == "non_numeric_amount"
    assert skip_reason("subscription_billed", billed(currency=None)) == "missing_currency"
    assert skip_reason("subscription_billed", billed(plan_level="x" * 513)) == "value_too_long"
    assert "x" * 512 in build("subscription_billed", billed(plan_level="x" * 512))
    assert skip_reason("subscription_changed", changed(direction="sideways")) == "unmapped_event_value"


def test_null_optional_property_is_left_out() -> None:
    query = build("subscription_billed", billed(plan_level=None))
    assert "Plan%20Level" not in query


def test_subscription_upgraded_and_downgraded() -> None:
    up = build("subscription_changed", changed())
    assert up == (
        "_p=alice%40example.com&_n=Subscription%20Upgraded&_t=1711929600&_d=1"
        "&Stripe%20Subscription%20ID=sub_1&Subscription%20Billing%20Amount=99.00"
        "&Subscription%20Billing%20Length=1&Subscription%20Plan%20Level=Business"
    )
    down = build("subscription_changed", changed("chg_2", direction="downgraded", plan_level="Starter"))
    assert down.startswith("_p=alice%40example.com&_n=Subscription%20Downgraded&")
    assert down.endswith("&Subscription%20Plan%20Level=Starter")


def test_subscription_canceled_spelled_with_one_l() -> None:
    assert build("subscription_canceled", canceled()) == (
        "_p=alice%40example.com&_n=Subscription%20Canceled&_t=1714521600&_d=1"
        "&Stripe%20Subscription%20ID=sub_1&Subscription%20Cancelation%20Reason=too_expensive"
    )


def test_refund_amounts_are_negative() -> None:
    assert build("subscription_refunded", refunded(amount=Decimal("49.9"))) == (
        "_p=alice%40example.com&_n=Refunded&_t=1709596800&_d=1"
        "&Billing%20Amount=-49.90&Stripe%20Invoice%20ID=in_1&Stripe%20Refund%20ID=re_1"
        "&Subscription%20Billing%20Amount=-49.90&Subscription%20Billing%20Currency=USD"
        "&Subscription%20Refund%20Reason=requested_by_customer"
    )
    jpy = build("subscription_refunded", refunded(amount=5000, currency="jpy"))
    assert "&Billing%20Amount=-5000&" in jpy


def test_custom_mapping_for_another_tap() -> None:
    mappings = resolve_mappings(
        {
            "orders": {
                "event_name": "Purchased",
                "identity_field": "email",
                "timestamp_field": "processed_at",
                "key_fields": ["id"],
                "properties": {
                    "Purchase Amount": {"field": "total", "format": "amount"},
                    "Order Name": "name",
                },
            },
            "subscription_billed": {"identity_field": "billing_email"},
        }
    )
    builder = EventBuilder(mappings["orders"], lowercase_identity=True, use_fallback=False)
    order = {
        "id": 7,
        "email": "Z@x.io",
        "processed_at": "2024-03-01T12:00:00Z",
        "total": 3,
        "currency": "eur",
    }
    assert builder.build({**order, "name": "#1001"}).query == (
        "_p=z%40x.io&_n=Purchased&_t=1709294400&_d=1&Order%20Name=%231001&Purchase%20Amount=3.00"
    )
    assert builder.key_of(order) == "7"
    # An override changes only what it names.
    assert mappings["subscription_billed"].identity_field == "billing_email"
    assert mappings["subscription_billed"].event_name == "Subscription Billed"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"properties": {"_p": "customer_email"}}, "reserved"),
        ({"properties": {"N" * 255: "amount"}}, "255 characters"),
        ({"event_name": "Billed: monthly"}, "',' or ':'"),
        ({"event_name": "Billed, monthly"}, "',' or ':'"),
        ({"properties": {"X": {"field": "amount", "format": "roman"}}}, "format must be one of"),
        ({"surprise": 1}, "unknown keys"),
    ],
)
def test_bad_mappings_are_fatal(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        for mapping in resolve_mappings({"subscription_billed": entry}).values():
            check_mapping(mapping)
