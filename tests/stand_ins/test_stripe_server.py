"""Faults, latency, control endpoints, stats, the command line and the real stripe library."""

from __future__ import annotations

import http.client
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import stripe

from stand_ins.stripe import LIVE_KEY, Account, AccountConfig, StripeStandIn, generate_account

from .stripe_helpers import call


@pytest.fixture(scope="module")
def account() -> Account:
    return generate_account(AccountConfig(seed=21, invoices=600))


@pytest.fixture
def server(account: Account) -> Iterator[StripeStandIn]:
    with StripeStandIn(account) as srv:
        yield srv


def test_fault_schedule(server: StripeStandIn) -> None:
    server.slow_seconds = 0.2
    server.faults.configure(schedule={1: "429", 2: "429_retry", 3: "500", 4: "slow", 6: "reset"})
    status, body, headers = call(server.url, "/v1/invoices")
    assert status == 429 and body["error"]["code"] == "rate_limit" and "Stripe-Should-Retry" not in headers
    status, body, headers = call(server.url, "/v1/invoices")
    assert status == 429 and headers["Stripe-Should-Retry"] == "true"
    status, body, _ = call(server.url, "/v1/invoices")
    assert status == 500 and body["error"]["type"] == "api_error"
    started = time.monotonic()
    assert call(server.url, "/v1/invoices")[0] == 200
    assert time.monotonic() - started >= 0.2
    assert call(server.url, "/_standin/clock", key=None)[0] == 200  # controls are never faulted
    assert call(server.url, "/v1/invoices")[0] == 200
    host = urlsplit(server.url)
    conn = http.client.HTTPConnection(host.hostname or "", host.port, timeout=5)
    conn.request("GET", "/v1/invoices", headers={"Authorization": f"Bearer {LIVE_KEY}"})
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        conn.getresponse().read()
    conn.close()
    assert server.faults.describe()["injected"] == {"429": 1, "429_retry": 1, "500": 1, "slow": 1, "reset": 1}
    assert server.stats()["GET /v1/invoices"] == 6


def test_fault_rates_and_latency(server: StripeStandIn) -> None:
    status, plan, _ = call(
        server.url, "/_standin/faults", key=None, method="POST", body={"rates": {"500": 0.5}, "seed": 4}
    )
    assert status == 200 and plan["rates"] == {"500": 0.5}
    codes = [call(server.url, "/v1/prices", {"limit": 1})[0] for _ in range(40)]
    assert 5 <= codes.count(500) <= 35 and codes.count(200) == 40 - codes.count(500)
    server.faults.clear()
    call(server.url, "/_standin/latency", key=None, method="POST", body={"ms": 150})
    started = time.monotonic()
    assert call(server.url, "/v1/prices", {"limit": 1})[0] == 200
    assert time.monotonic() - started >= 0.15
    server.latency_seconds = 0


def test_stats_and_truth_endpoints(server: StripeStandIn, account: Account) -> None:
    server.reset_stats()
    inv = call(server.url, "/v1/invoices", {"limit": 1, "status": "paid"})[1]["data"][0]
    call(server.url, f"/v1/invoices/{inv['id']}")
    call(server.url, f"/v1/invoices/{inv['id']}/lines")
    assert call(server.url, "/_standin/stats", key=None)[1] == {
        "GET /v1/invoices": 1,
        "GET /v1/invoices/{id}": 1,
        "GET /v1/invoices/{id}/lines": 1,
    }
    call(server.url, "/_standin/stats/reset", key=None, method="POST", body={})
    assert server.stats() == {}
    status, records, _ = call(
        server.url, "/_standin/truth/billed", {"paid_before": account.now + 1}, key=None
    )
    assert status == 200 and records
    assert isinstance(records[0]["amount"], str) and isinstance(records[0]["billing_length_months"], str)


def test_stripe_library_round_trip(server: StripeStandIn, account: Account) -> None:
    client = stripe.StripeClient(LIVE_KEY, base_addresses={"api": server.url})
    invoices = client.v1.invoices.list({"limit": 3, "status": "paid"})
    assert len(invoices.data) == 3 and all(i["status"] == "paid" for i in invoices.data)
    events = client.v1.events.list({"types": ["invoice.paid"], "created": {"gte": account.now - 7 * 86400}})
    assert events.data and all(e["type"] == "invoice.paid" for e in events.data)
    prices = client.v1.prices.list({"limit": 100, "expand": ["data.product"]})
    assert prices.data[0]["product"]["object"] == "product"
    seen = sum(1 for _ in client.v1.invoices.list({"limit": 100}).auto_paging_iter())
    assert seen == sum(1 for i in account.invoices if i.livemode and i.created <= account.now)
    with pytest.raises(stripe.AuthenticationError):
        stripe.StripeClient("sk_live_bogus", base_addresses={"api": server.url}).v1.invoices.list()
    server.faults.configure(schedule={1: "429"})
    with pytest.raises(stripe.RateLimitError):
        client.v1.invoices.list()


@pytest.mark.slow  # the stand-in's command line as a process
def test_command_line() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "stand_ins.stripe", "--invoices", "200", "--seed", "2", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline().strip()
        assert banner.startswith("Stripe stand-in listening on http://127.0.0.1:")
        url = banner.rsplit(" ", 1)[1]
        assert call(url, "/v1/invoices", {"limit": 1})[0] == 200
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
