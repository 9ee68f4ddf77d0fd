"""The stand-in's per-endpoint rate limit: Stripe's 429 ``rate_limit`` answer, per named endpoint,
off by default (docs.stripe.com/rate-limits: 25 requests/s per endpoint unless Stripe raised it)."""

from __future__ import annotations

import stripe

from stand_ins.stripe import LIVE_KEY, AccountConfig, StripeStandIn, generate_account
from stand_ins.stripe.limits import EndpointLimits

from .stripe_helpers import call


def test_token_bucket_per_endpoint() -> None:
    now = [0.0]
    limits = EndpointLimits(2, clock=lambda: now[0])
    assert [limits.admit("GET /v1/invoices") for _ in range(3)] == [True, True, False]
    assert limits.admit("GET /v1/invoices/{id}/lines")  # another endpoint, its own bucket
    now[0] = 0.5  # one token back
    assert [limits.admit("GET /v1/invoices") for _ in range(2)] == [True, False]
    assert limits.refused == {"GET /v1/invoices": 2}
    limits.configure(None)
    assert all(limits.admit("GET /v1/invoices") for _ in range(100))


def test_stand_in_answers_over_the_limit_as_stripe_does() -> None:
    account = generate_account(AccountConfig(seed=5, invoices=200))
    with StripeStandIn(account, endpoint_rate_limit=3) as server:
        answers = [call(server.url, "/v1/invoices", {"limit": 1}) for _ in range(6)]
        statuses = [status for status, _, _ in answers]
        assert statuses[:3] == [200, 200, 200] and 429 in statuses[3:]
        body = next(body for status, body, _ in answers if status == 429)
        assert body["error"]["code"] == "rate_limit"
        assert body["error"]["type"] == "invalid_request_error"
        assert "rate limit" in body["error"]["message"]
        # Requests for different ids count against one endpoint; another endpoint is not affected.
        assert call(server.url, "/v1/prices", {"limit": 1})[0] == 200
        # The stripe library reads the answer as a RateLimitError.
        client = stripe.StripeClient(LIVE_KEY, base_addresses={"api": server.url}, max_network_retries=0)
        try:
            client.raw_request("get", "/v1/invoices?limit=1")
        except stripe.RateLimitError as exc:
            assert exc.http_status == 429
        else:
            raise AssertionError("no 429")
        # Off again through the control endpoint.
        assert call(server.url, "/_standin/rate_limits", method="POST", body={"per_endpoint": None})[0] == 200
        assert all(call(server.url, "/v1/invoices", {"limit": 1})[0] == 200 for _ in range(6))


def test_off_by_default() -> None:
    account = generate_account(AccountConfig(seed=5, invoices=200))
    with StripeStandIn(account) as server:
        assert all(call(server.url, "/v1/invoices", {"limit": 1})[0] == 200 for _ in range(40))
        assert server.limits.refused == {}
