"""The Stripe stand-in speaks Connect: connected accounts listed, Stripe-Account routing, revoked access,
ground truth per account; read through stripe-python, as a client of real Stripe would."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator

import pytest
import stripe

from stand_ins.stripe import LIVE_KEY, AccountConfig, StripeStandIn, expected_billed, generate_account


@pytest.fixture(scope="module")
def server() -> Iterator[StripeStandIn]:
    account = generate_account(AccountConfig(seed=11, invoices=60, history_days=60))
    with StripeStandIn(account) as srv:
        yield srv


@pytest.fixture(scope="module")
def connected(server: StripeStandIn) -> list[str]:
    return server.connect(5, invoices=40)


def client(server: StripeStandIn, key: str = LIVE_KEY) -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": server.url}, max_network_retries=0)


def test_a_platform_of_200_accounts_starts_at_once_and_generates_on_first_use() -> None:
    account = generate_account(AccountConfig(seed=1, invoices=20, history_days=30))
    srv = StripeStandIn(account)
    started = time.perf_counter()
    ids = srv.connect(200, invoices=250)
    assert time.perf_counter() - started < 1.0
    assert len(set(ids)) == 200 and all(i.startswith("acct_1") and len(i) == 21 for i in ids)
    assert srv.platform._generated == {}


def test_accounts_are_listed_newest_first_paged_as_stripe_accounts(
    server: StripeStandIn, connected: list[str]
) -> None:
    api = client(server)
    page = api.v1.accounts.list({"limit": 2})
    assert page.has_more is True
    assert all(isinstance(a, stripe.Account) and a.object == "account" for a in page.data)
    listed = [a.id for a in page.auto_paging_iter()]
    assert listed == list(reversed(connected))
    first = api.v1.accounts.list({"limit": 100}).data[0]
    assert first.type == "standard" and first.charges_enabled is True and isinstance(first.created, int)


def test_stripe_account_routes_to_that_accounts_own_data_and_truth(
    server: StripeStandIn, connected: list[str]
) -> None:
    api = client(server)
    seen: dict[str, set[str]] = {}
    for account in connected[:3]:
        invoices = api.v1.invoices.list({"limit": 100, "status": "paid"}, {"stripe_account": account})
        seen[account] = {inv.id for inv in invoices.auto_paging_iter() if inv.livemode}
        assert api.v1.accounts.retrieve_current(options={"stripe_account": account}).id == account
        url = f"{server.url}/_standin/truth/billed?account={account}&include_zero=1"
        with urllib.request.urlopen(url) as answer:
            truth = {r["invoice_id"] for r in json.load(answer)}
        data = server.platform.generated(account, server.account.now)
        assert truth == set(expected_billed(data, server.account.now + 1, None, include_zero=True))
        assert truth and truth <= seen[account]
    platform = {inv.id for inv in api.v1.invoices.list({"limit": 100}).auto_paging_iter()}
    groups = [*seen.values(), platform]
    assert sum(len(g) for g in groups) == len(set().union(*groups)), "accounts share invoice ids"
    assert server.account_stats[connected[0]] >= 2


def test_revoked_access_is_stripes_403_account_invalid_and_the_account_is_no_longer_listed(
    server: StripeStandIn, connected: list[str]
) -> None:
    api = client(server)
    revoked = connected[1]
    server.platform.revoke(revoked)
    try:
        with pytest.raises(stripe.PermissionError) as caught:
            api.v1.invoices.list({"limit": 1}, {"stripe_account": revoked})
        error = caught.value
        assert error.http_status == 403
        assert error.error is not None and error.error.code == "account_invalid"  # the body's error object
        assert "does not have access to account" in str(error.user_message)
        assert LIVE_KEY not in str(error.user_message)
        assert revoked not in [a.id for a in api.v1.accounts.list({"limit": 100}).data]
        with pytest.raises(stripe.PermissionError):  # an account the platform never had: the same answer
            api.v1.invoices.list({"limit": 1}, {"stripe_account": "acct_1NotConnected000"})
        with pytest.raises(stripe.AuthenticationError):  # the key is checked first: 401
            client(server, "sk_live_" + "0" * 24).v1.invoices.list({"limit": 1}, {"stripe_account": revoked})
    finally:
        server.platform.revoke(revoked, revoked=False)
    assert api.v1.invoices.list({"limit": 1}, {"stripe_account": revoked}).object == "list"
