"""Refunds of every payment kind, first run and hourly runs, against a stand-in that refuses what Stripe
refuses: Charges-API payments (no PaymentIntent) are linked through the charge read in an older API
version, charges of no invoice are skipped and counted, and a PaymentIntent that paid several invoices is
attributed by the documented rule (``refunds.attributed_invoice``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from stand_ins.stripe import LIVE_KEY, StripeStandIn, expected_refunds, generate_account
from stand_ins.stripe.config import AccountConfig
from stand_ins.stripe.truth import refund_invoice
from tests.tap.harness import run_tap

pytestmark = pytest.mark.slow  # whole runs against a generated account

REFUNDED = "subscription_refunded"
LAG = 300


@pytest.fixture(scope="module")
def server() -> Iterator[StripeStandIn]:
    cfg = AccountConfig(
        seed=41,
        invoices=3000,
        history_days=60,
        horizon_days=2,
        refund_share=0.25,
        charge_payment_share=0.2,
        standalone_charge_share=0.4,
        shared_payment_share=0.15,
    )
    with StripeStandIn(generate_account(cfg), port=0) as srv:
        yield srv


def test_refunds_of_every_payment_kind_exactly_once_across_runs(server: StripeStandIn) -> None:
    account = server.account
    saved = account.now
    config = {"api_key": LIVE_KEY, "api_url": server.url, "max_requests_per_second": 1000}
    records: list[dict[str, Any]] = []
    skipped = 0
    charge_reads = 0
    state: dict[str, Any] | None = None
    try:
        for step in range(4):
            if step:
                account.advance(hours=6)
            result = run_tap(config, state, streams=(REFUNDED,))
            state = result.state
            records += result.records
            skipped += result.summary["filtered_out"].get("not_invoiced", 0)
            charge_reads += result.summary["requests"].get("GET /v1/charges/{id}", 0)
        want = expected_refunds(account, account.now - LAG)
        got = {r["refund_id"]: r for r in records}
        assert len(got) == len(records), "a refund was emitted twice"
        assert sorted(set(want) - set(got)) == [] and sorted(set(got) - set(want)) == []
        diffs = [(k, f, v, got[k][f]) for k, rec in want.items() for f, v in rec.items() if got[k][f] != v]
        assert [d for d in diffs if d[1] != "customer_email"] == []

        # The kinds this test is about are all in the window, and each went its own way.
        upper = account.now - LAG
        live = [r for r in account.refunds if r.livemode and r.status == "succeeded" and r.created < upper]
        by_charge = [r for r in live if r.invoice is not None and r.invoice.pi_id is None and r.invoice.sub]
        assert by_charge and all(r.id in got for r in by_charge)
        lone = [r for r in live if r.invoice is None]
        assert lone and not {r.id for r in lone} & set(got)
        assert skipped >= len(lone) > 0, "refunds of charges with no invoice are counted"
        assert charge_reads >= len(by_charge)
        moved = [r for r in live if r.invoice is not None and refund_invoice(account, r) is not r.invoice]
        assert moved
        for refund in moved:
            inv = refund_invoice(account, refund)
            assert inv is not None
            if inv.sub is not None:
                assert got[refund.id]["invoice_id"] == inv.id
            else:  # the larger invoice the PaymentIntent paid is a one-off: no subscription refund
                assert refund.id not in got
        pis = Counter(i.pi_id for i in account.invoices if i.pi_id and i.paid_at)
        shared = {pi for pi, n in pis.items() if n > 1}
        kept = [r for r in live if r.pi_id in shared and r.id in got]
        assert kept, "a refund of a PaymentIntent that paid several invoices, kept for its subscription one"
    finally:
        account.set_now(saved)
