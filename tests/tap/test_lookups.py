"""Single lookups against the Stripe stand-in: odd legacy plan ids are URL-quoted, a price Stripe no longer
has (404) still gives a plan level (its id, SPEC §2)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tap_stripe_billing import records as rec
from tap_stripe_billing.client import StripeAPI
from tap_stripe_billing.prices import PriceCache

from stand_ins.stripe import LIVE_KEY, AccountConfig, StripeStandIn, generate_account
from tests.tap import payloads as p


@pytest.fixture(scope="module")
def server() -> Iterator[StripeStandIn]:
    with StripeStandIn(generate_account(AccountConfig(seed=4, invoices=200))) as srv:
        yield srv


def test_a_legacy_plan_id_with_slash_space_and_hash(server: StripeStandIn) -> None:
    odd = next(pr for pr in server.account.prices if "/" in pr.id and pr.livemode)
    assert " " in odd.id and "#" in odd.id
    api = StripeAPI(LIVE_KEY, server.url, max_requests_per_second=1000)
    cache = PriceCache(api, single_only=True)  # no walk: one GET by id
    info = cache.lookup(odd.id)
    assert info is not None and info.price_id == odd.id
    assert info.plan_level() == (odd.nickname or odd.lookup_key or odd.product.name)
    assert api.request_summary() == {"GET /v1/prices/{id}": 1}
    assert server.stats().get("GET /v1/prices/{id}", 0) >= 1


def test_a_price_stripe_no_longer_has_keeps_its_id_as_plan_level(server: StripeStandIn) -> None:
    api = StripeAPI(LIVE_KEY, server.url, max_requests_per_second=1000)
    cache = PriceCache(api, single_only=True)
    assert cache.lookup("plan_deleted_2019") is None  # Stripe answers 404: no such price
    invoice = p.invoice("in_gone", lines=[p.line(4990, price_id="plan_deleted_2019")])
    record = rec.build_record(invoice, invoice["lines"]["data"], cache.lookup, None)
    assert record["plan_level"] == "plan_deleted_2019"
    assert record["billing_length_months"] is None  # unknown without the price: never guessed
