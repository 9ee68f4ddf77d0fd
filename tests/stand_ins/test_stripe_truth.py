"""expected_billed agrees with a plain scan of what the stand-in serves."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from stand_ins.stripe import AccountConfig, StripeStandIn, expected_billed, generate_account
from stand_ins.stripe.money import iso

from .stripe_helpers import walk

EXPONENTS = {"jpy": 0, "kwd": 3}
MONTHS = {"month": Decimal(1), "year": Decimal(12), "week": Decimal(12) / Decimal("52.1775")}


def scan(url: str, paid_before: int) -> dict[str, dict[str, Any]]:
    prices = {p["id"]: p for p in walk(url, "/v1/prices", {"expand[]": "data.product"})}
    out: dict[str, dict[str, Any]] = {}
    for inv in walk(url, "/v1/invoices", {"status": "paid", "expand[]": "data.customer"}):
        paid_at = inv["status_transitions"]["paid_at"]
        if inv["parent"] is None or inv["amount_paid"] <= 0 or paid_at >= paid_before:
            continue
        lines = inv["lines"]["data"]
        if inv["lines"]["has_more"]:
            lines = walk(url, f"/v1/invoices/{inv['id']}/lines")
        regular = [ln for ln in lines if not ln["parent"]["subscription_item_details"]["proration"]]
        main = max(regular or [ln for ln in lines if ln["amount"] > 0], key=lambda ln: ln["amount"])
        price = prices[main["pricing"]["price_details"]["price"]]
        email = inv["customer_email"] or inv["customer"]["email"]
        recurring = price["recurring"]
        out[inv["id"]] = {
            "invoice_id": inv["id"],
            "paid_at": iso(paid_at),
            "customer_id": inv["customer"]["id"],
            "customer_email": email.strip() if email else None,
            "subscription_id": inv["parent"]["subscription_details"]["subscription"],
            "amount": Decimal(inv["amount_paid"]).scaleb(-EXPONENTS.get(inv["currency"], 2)),
            "amount_minor": inv["amount_paid"],
            "currency": inv["currency"],
            "billing_length_months": (recurring["interval_count"] * MONTHS[recurring["interval"]]).quantize(
                Decimal("0.0001")
            ),
            "plan_level": price["nickname"] or price["lookup_key"] or price["product"]["name"],
            "billing_reason": inv["billing_reason"],
            "period_start": iso(main["period"]["start"]),
            "period_end": iso(main["period"]["end"]),
            "livemode": inv["livemode"],
        }
    return out


def test_expected_billed_matches_a_scan() -> None:
    account = generate_account(AccountConfig(seed=13, invoices=1200))
    with StripeStandIn(account) as server:
        paid_before = account.now - 86_400
        scanned = scan(server.url, paid_before)
    expected = expected_billed(account, paid_before)
    assert scanned == expected
    assert {r["currency"] for r in expected.values()} == {"usd", "eur", "jpy", "kwd"}
    assert any(r["amount"].as_tuple().exponent == -3 for r in expected.values())
    assert any(r["billing_reason"] == "subscription_update" for r in expected.values())


def test_expected_billed_options() -> None:
    account = generate_account(AccountConfig(seed=13, invoices=800))
    now = account.now
    base = expected_billed(account, now + 1)
    with_zero = expected_billed(account, now + 1, include_zero=True)
    with_test = expected_billed(account, now + 1, include_test=True)
    assert set(base) < set(with_zero) and set(base) < set(with_test)
    assert all(r["amount_minor"] > 0 and r["livemode"] for r in base.values())
    window = expected_billed(account, now - 10 * 86_400, now - 20 * 86_400)
    assert window and all(
        iso(now - 20 * 86_400) <= r["paid_at"] < iso(now - 10 * 86_400) for r in window.values()
    )
