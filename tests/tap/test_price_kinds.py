"""Prices without a plain ``unit_amount`` in the ``subscription_changed`` stream: tiered (graduated and
volume), ``unit_amount_decimal`` with fractions of a minor unit, quantities above one, and metered prices
(no fixed MRR: the last usage line's amount, ``lifecycle.py``): right direction and amounts, never a
silent 0; first run (history past the events included) and hourly runs against the oracle."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from tap_stripe_billing import pricing
from tap_stripe_billing.lifecycle_streams import EVENT_RETENTION, RETENTION_MARGIN
from tap_stripe_billing.records import price_info_from_payload

from stand_ins.stripe import LIVE_KEY, StripeStandIn, expected_changes, generate_account
from stand_ins.stripe.config import AccountConfig
from stand_ins.stripe.price_kinds import period_amount
from stand_ins.stripe.render_catalog import price as render_price
from tests.stand_ins.stripe_helpers import call
from tests.tap.harness import run_tap

pytestmark = pytest.mark.slow  # whole runs against a generated account

CHANGED = "subscription_changed"
LAG = 300


@pytest.fixture(scope="module")
def server() -> Iterator[StripeStandIn]:
    cfg = AccountConfig(
        seed=59,
        invoices=4000,
        history_days=90,
        horizon_days=2,
        change_share=0.35,
        price_kinds_share=0.5,
        deferred_change_share=0.3,
        none_change_share=0.1,
    )
    with StripeStandIn(generate_account(cfg), port=0) as srv:
        yield srv


def test_tiers_are_included_only_when_expanded(server: StripeStandIn) -> None:
    tiered = next(p for p in server.account.prices if p.scheme == "volume" and p.livemode)
    status, body, _ = call(server.url, f"/v1/prices/{tiered.id}")
    assert status == 200 and "tiers" not in body and body["billing_scheme"] == "tiered"
    assert body["unit_amount"] is None and body["tiers_mode"] == "volume"
    status, body, _ = call(server.url, f"/v1/prices/{tiered.id}", [("expand[]", "tiers")])
    assert status == 200 and [t["up_to"] for t in body["tiers"]] == [2, 10, None]
    status, page, _ = call(server.url, "/v1/prices", [("limit", "100"), ("expand[]", "data.tiers")])
    assert status == 200 and any("tiers" in p for p in page["data"])


def test_the_tap_and_the_stand_in_agree_on_every_price_model(server: StripeStandIn) -> None:
    """The amount per period of each kind and quantity, computed from the rendered payload by the tap and
    from the stand-in's model by its oracle; a few by hand from Stripe's pricing-model examples."""
    kinds = Counter(p.scheme for p in server.account.prices)
    assert set(kinds) >= {"per_unit", "graduated", "volume", "decimal", "metered"}
    for p in server.account.prices:
        info = price_info_from_payload(render_price(p, with_tiers=True))
        for qty in (1, 2, 3, 5, 6, 10, 11, 40):
            assert pricing.period_amount(info, qty) == period_amount(p, qty), (p.scheme, qty)
    graduated = next(p for p in server.account.prices if p.scheme == "graduated" and p.currency == "usd")
    a = graduated.unit_amount  # tiers: 1 at a, 2-5 at 80%, 6+ at 60% plus a flat a
    info = price_info_from_payload(render_price(graduated, with_tiers=True))
    assert pricing.period_amount(info, 7) == a + 4 * (a * 8 // 10) + 2 * (a * 6 // 10) + a
    decimal = next(p for p in server.account.prices if p.scheme == "decimal" and p.currency == "usd")
    info = price_info_from_payload(render_price(decimal))
    assert (
        info.unit_amount is None and pricing.period_amount(info, 3) == Decimal(f"{decimal.unit_amount}.5") * 3
    )


def test_changes_on_every_price_model_exactly_once(server: StripeStandIn) -> None:
    account = server.account
    saved = account.now
    retained_from = saved - EVENT_RETENTION + RETENTION_MARGIN
    config = {"api_key": LIVE_KEY, "api_url": server.url, "max_requests_per_second": 1000}
    records: list[dict[str, Any]] = []
    unknown = 0
    state: dict[str, Any] | None = None
    try:
        for step in range(3):
            if step:
                account.advance(hours=2)
            result = run_tap(config, state, streams=(CHANGED,))
            state = result.state
            records += result.records
            unknown += result.summary["filtered_out"].get("amount_unknown", 0)
        want = expected_changes(account, account.now - LAG, retained_from=retained_from)
        got = {r["change_id"]: r for r in records}
        assert len(got) == len(records), "a change was emitted twice"
        assert sorted(set(want) - set(got)) == [], "missing"
        assert sorted(set(got) - set(want)) == [], "unexpected"
        diffs = [(k, f, v, got[k][f]) for k, r in want.items() for f, v in r.items() if got[k][f] != v]
        assert [d for d in diffs if d[1] != "customer_email"] == []
        assert all(Decimal(str(r["mrr_before"])) > 0 and Decimal(str(r["mrr_after"])) > 0 for r in records)

        # Every kind is on one side of some emitted change, past the events and in them.
        by_id = {}
        for sub in account.subscriptions:
            for ch in sub.changes:
                by_id[ch.event_id] = ch
                if ch.invoice is not None:
                    by_id[ch.invoice.id] = ch
        seen = Counter(
            p.scheme
            for cid in got
            for _, p, _ in by_id[cid.split("@")[0]].old_items + by_id[cid.split("@")[0]].new_items
        )
        assert set(seen) >= {"per_unit", "graduated", "volume", "decimal", "metered"}, seen
        tiered_qty = [
            cid
            for cid in got
            if any(
                p.scheme in ("graduated", "volume") and q > 1
                for _, p, q in by_id[cid.split("@")[0]].new_items
            )
        ]
        assert tiered_qty
        assert unknown > 0, "a change to a metered price never billed is counted, not compared with 0"
    finally:
        account.set_now(saved)
