"""Record rules on Stripe-shaped payloads (both shapes)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tap_stripe_billing import money
from tap_stripe_billing import records as rec
from tap_stripe_billing.prices import PriceCache

from tests.tap import payloads as p

RULES = rec.Rules()


class FakePrices:
    def __init__(self, *prices: dict) -> None:
        self.prices = {pr["id"]: pr for pr in prices}
        self.requests: list[str] = []

    def list_all(self, path: str, params: object = ()) -> list[dict]:
        self.requests.append(path)
        return list(self.prices.values())

    def get(self, path: str, params: object = (), *, missing_ok: bool = False) -> dict | None:
        self.requests.append(path)
        return self.extra.get(path.rsplit("/", 1)[1]) if hasattr(self, "extra") else None


def build(invoice: dict, *prices: dict, email: str | None = "x@example.com") -> dict:
    cache = PriceCache(FakePrices(*(prices or (p.price(),))))
    lines = invoice["lines"]["data"]
    return rec.build_record(invoice, lines, cache.lookup, email)


@pytest.mark.parametrize(
    ("minor", "currency", "expected", "text"),
    [
        (4990, "usd", Decimal("49.90"), "49.90"),
        (5000, "jpy", Decimal("5000"), "5000"),
        (12345, "kwd", Decimal("12.345"), "12.345"),
        (100, "isk", Decimal("1.00"), "1.00"),
        (1, "bhd", Decimal("0.001"), "0.001"),
        (700, "EUR", Decimal("7.00"), "7.00"),
    ],
)
def test_amounts_are_exact_decimals(minor: int, currency: str, expected: Decimal, text: str) -> None:
    value = money.minor_to_major(minor, currency)
    assert value == expected
    assert str(value) == text


def test_amount_survives_singer_serialisation() -> None:
    from singer_sdk.singerlib.json import deserialize_json, serialize_json

    record = build(p.invoice(amount_paid=4990))
    line = serialize_json({"record": record})
    assert '"amount":49.90' in line
    assert deserialize_json(line)["record"]["amount"] == Decimal("49.90")
    jpy = serialize_json({"a": money.minor_to_major(5000, "jpy"), "b": money.minor_to_major(12345, "kwd")})
    assert jpy == '{"a":5000,"b":12.345}'


@pytest.mark.parametrize(
    ("interval", "count", "expected"),
    [
        ("month", 1, "1"),
        ("month", 3, "3"),
        ("year", 1, "12"),
        ("year", 2, "24"),
        ("week", 1, "0.23"),
        ("week", 2, "0.46"),
        ("day", 1, "0.0329"),
        ("day", 30, "0.9856"),
        ("month", 12, "12"),
    ],
)
def test_billing_length(interval: str, count: int, expected: str) -> None:
    value = money.billing_length_months(interval, count)
    assert value == Decimal(expected)
    assert str(value) == expected  # no trailing zeros, no exponent


def test_billing_length_unknown_interval() -> None:
    assert money.billing_length_months(None, 1) is None


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"nickname": "Gold", "lookup_key": "gold_m", "product_name": "Pro"}, "Gold"),
        ({"nickname": None, "lookup_key": "gold_m", "product_name": "Pro"}, "gold_m"),
        ({"nickname": None, "lookup_key": None, "product_name": "Pro"}, "Pro"),
        ({"nickname": None, "lookup_key": None, "product_name": None}, "price_A"),
        ({"nickname": "", "lookup_key": None, "product_name": "Pro"}, "Pro"),
    ],
)
def test_plan_level_chain(kwargs: dict, expected: str) -> None:
    record = build(p.invoice(), p.price(**kwargs))
    assert record["plan_level"] == expected


def test_full_record_current_shape() -> None:
    inv = p.invoice(amount_paid=4990, paid_at=1_700_000_100)
    record = build(inv, p.price(interval="year", nickname="Annual"), email="a@b.c")
    assert record == {
        "invoice_id": "in_1",
        "paid_at": "2023-11-14T22:15:00+00:00",
        "customer_id": "cus_1",
        "customer_email": "a@b.c",
        "subscription_id": "sub_1",
        "amount": Decimal("49.90"),
        "amount_minor": 4990,
        "currency": "usd",
        "billing_length_months": Decimal(12),
        "plan_level": "Annual",
        "billing_reason": "subscription_cycle",
        "period_start": "2023-11-14T22:13:20+00:00",
        "period_end": "2023-12-14T22:13:20+00:00",
        "livemode": True,
    }


def test_legacy_shape_gives_the_same_record() -> None:
    pr = p.price(interval="week", count=2, nickname=None, lookup_key="biweekly")
    current = build(p.invoice("in_X", lines=[p.line(4990)]), pr)
    legacy = build(p.legacy_invoice("in_X", lines=[p.legacy_line(4990, price_payload=pr)]), pr)
    assert legacy == current
    assert legacy["subscription_id"] == "sub_1"
    assert legacy["billing_length_months"] == Decimal("0.46")


def test_legacy_line_falls_back_to_embedded_price_when_stripe_has_none() -> None:
    pr = p.price("plan_old", nickname="Old plan", interval="year")
    inv = p.legacy_invoice(lines=[p.legacy_line(9900, price_payload=pr)])
    cache = PriceCache(FakePrices())  # the walk does not know plan_old, the single fetch 404s
    record = rec.build_record(inv, inv["lines"]["data"], cache.lookup, None)
    assert record["plan_level"] == "Old plan"
    assert record["billing_length_months"] == Decimal(12)


def test_main_line_largest_non_proration_subscription_line() -> None:
    lines = [
        p.line(-1500, price_id="price_old", proration=True),  # credit for unused time
        p.line(2500, price_id="price_new", proration=True),  # charge for remaining time
        p.line(1000, price_id="price_small"),
        p.line(3000, price_id="price_big"),
        p.line(9999, price_id="price_oneoff", subscription_item=False),  # one-off invoice item
    ]
    main = rec.main_line([rec.parse_line(ln) for ln in lines])
    assert main is not None and main.price_id == "price_big"


def test_main_line_only_prorations_uses_largest_positive() -> None:
    lines = [
        p.line(-4000, price_id="price_old", proration=True),
        p.line(1200, price_id="price_mid", proration=True),
        p.line(2500, price_id="price_new", proration=True, subscription_item=False),
    ]
    main = rec.main_line([rec.parse_line(ln) for ln in lines])
    assert main is not None and main.price_id == "price_new"


def test_main_line_legacy_prorations_and_items() -> None:
    a = p.price("price_a")
    b = p.price("price_b")
    lines = [
        p.legacy_line(-300, price_payload=a, proration=True),
        p.legacy_line(700, price_payload=b),
        p.legacy_line(5000, price_payload=a, kind="invoiceitem"),
    ]
    main = rec.main_line([rec.parse_line(ln) for ln in lines])
    assert main is not None and main.price_id == "price_b"


def test_main_line_multi_item_and_tie_keeps_first() -> None:
    lines = [p.line(2000, price_id="price_a"), p.line(2000, price_id="price_b")]
    main = rec.main_line([rec.parse_line(ln) for ln in lines])
    assert main is not None and main.price_id == "price_a"


def test_more_than_ten_lines_uses_all_lines() -> None:
    lines = [p.line(100 + i, price_id=f"price_{i}") for i in range(12)]
    inv = p.invoice(lines=lines)
    assert inv["lines"]["has_more"] is True and len(inv["lines"]["data"]) == 10
    prices = [p.price(f"price_{i}", nickname=f"N{i}") for i in range(12)]
    record = build(inv | {"lines": {"data": lines, "has_more": False}}, *prices)
    assert record["plan_level"] == "N11"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("  Ann@Example.COM ", "Ann@Example.COM"), ("", None), ("   ", None), (None, None), (3, None)],
)
def test_clean_email(value: object, expected: str | None) -> None:
    assert rec.clean_email(value) == expected


def test_subscription_parent_both_shapes() -> None:
    assert rec.subscription_id(p.invoice(subscription="sub_9")) == "sub_9"
    assert rec.subscription_id(p.legacy_invoice(subscription="sub_8")) == "sub_8"
    assert rec.subscription_id(p.invoice(subscription=None)) is None
    legacy = p.legacy_invoice()
    legacy["subscription"] = {"id": "sub_x", "object": "subscription"}
    assert rec.subscription_id(legacy) == "sub_x"


@pytest.mark.parametrize(
    ("kwargs", "rules", "from_event", "expected"),
    [
        ({}, RULES, False, None),
        ({"status": "open", "paid_at": None}, RULES, False, "not_paid"),
        ({"status": "open"}, RULES, False, "not_paid"),
        ({"status": "open"}, RULES, True, None),  # stale status in an invoice.paid event payload
        ({"livemode": False}, RULES, False, "test_mode"),
        ({"livemode": False}, rec.Rules(allow_test_mode=True), False, None),
        ({"amount_paid": 0}, RULES, False, "zero_amount"),
        ({"amount_paid": 0}, rec.Rules(include_zero_amount=True), False, None),
        ({"subscription": None}, RULES, False, "not_subscription"),
    ],
)
def test_filters(kwargs: dict, rules: rec.Rules, from_event: bool, expected: str | None) -> None:
    assert rec.filter_reason(p.invoice(**kwargs), rules, from_paid_event=from_event) == expected


def test_legacy_filters() -> None:
    assert rec.filter_reason(p.legacy_invoice(), RULES) is None
    assert rec.filter_reason(p.legacy_invoice(subscription=None), RULES) == "not_subscription"


def test_price_cache_walks_once_and_fetches_missing_singly() -> None:
    api = FakePrices(p.price("price_A", nickname="A"))
    api.extra = {"price_new": p.price("price_new", nickname="New")}  # type: ignore[attr-defined]
    cache = PriceCache(api)
    assert cache.lookup("price_A").plan_level() == "A"  # type: ignore[union-attr]
    assert cache.lookup("price_A").plan_level() == "A"  # type: ignore[union-attr]
    assert cache.lookup("price_new").plan_level() == "New"  # type: ignore[union-attr]
    assert cache.lookup("price_new").plan_level() == "New"  # type: ignore[union-attr]
    assert api.requests == ["/v1/prices", "/v1/prices/price_new"]
