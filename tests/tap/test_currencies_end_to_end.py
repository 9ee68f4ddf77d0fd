"""ISK, UGX and HUF payments and refunds through the tap, first run and hourly runs, against the oracle:
Stripe's API writes them with two decimals (ISK and UGX always a multiple of 100), so 500000 UGX in
``amount_paid`` is 5,000 UGX."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from stand_ins.stripe import LIVE_KEY, StripeStandIn, expected_billed, expected_refunds, generate_account
from stand_ins.stripe.catalog import EXTRA_CURRENCIES
from stand_ins.stripe.config import AccountConfig
from tests.tap.harness import run_tap

pytestmark = pytest.mark.slow  # whole runs against a generated account

BILLED, REFUNDED = "subscription_billed", "subscription_refunded"
LAG = 300


@pytest.fixture(scope="module")
def server() -> Iterator[StripeStandIn]:
    cfg = AccountConfig(
        seed=43,
        invoices=2500,
        history_days=50,
        horizon_days=2,
        refund_share=0.15,
        extra_currencies=EXTRA_CURRENCIES,
    )
    with StripeStandIn(generate_account(cfg), port=0) as srv:
        yield srv


def test_the_stand_in_bills_in_isk_ugx_and_huf_as_stripe_writes_them(server: StripeStandIn) -> None:
    account = server.account
    paid = [i for i in account.invoices if i.paid_at and i.paid_amount > 0]
    assert {i.currency for i in paid} >= set(EXTRA_CURRENCIES)
    whole = [i for i in paid if i.currency in ("isk", "ugx")]
    assert whole and all(i.paid_amount % 100 == 0 for i in whole)
    assert all(ln.amount % 100 == 0 for i in whole for ln in i.lines)
    assert all(r.amount % 100 == 0 for r in account.refunds if r.currency in ("isk", "ugx"))


def test_isk_ugx_huf_amounts_first_run_and_hourly(server: StripeStandIn) -> None:
    account = server.account
    saved = account.now
    config = {"api_key": LIVE_KEY, "api_url": server.url, "max_requests_per_second": 1000}
    got: dict[str, list[dict[str, Any]]] = {BILLED: [], REFUNDED: []}
    state: dict[str, Any] | None = None
    try:
        for step in range(3):
            if step:
                account.advance(hours=3)
            result = run_tap(config, state, streams=(BILLED, REFUNDED))
            state = result.state
            for stream in got:
                got[stream] += result.by_stream[stream]
        upper = account.now - LAG
        for stream, want, key in (
            (BILLED, expected_billed(account, upper), "invoice_id"),
            (REFUNDED, expected_refunds(account, upper), "refund_id"),
        ):
            records = {r[key]: r for r in got[stream]}
            assert len(records) == len(got[stream]), stream
            assert set(records) == set(want), stream
            for ident, rec in want.items():
                for field in ("amount", "currency", "amount_minor"):
                    if field in rec:
                        assert records[ident][field] == rec[field], (stream, ident, field)
        ugx = [r for r in got[BILLED] if r["currency"] == "ugx"]
        assert ugx and all(Decimal(r["amount"]) * 100 == r["amount_minor"] for r in ugx)
        assert {r["currency"] for r in got[BILLED]} >= set(EXTRA_CURRENCIES)
        assert any(r["currency"] in ("isk", "ugx", "huf") for r in got[REFUNDED])
    finally:
        account.set_now(saved)
