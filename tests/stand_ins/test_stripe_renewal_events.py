"""Stripe sends ``customer.subscription.updated`` when a subscription renews (its period moves): the
stand-in does too, shaped per API version, and ``expand[]`` of an array of ids works as on Stripe."""

from __future__ import annotations

from typing import Any

from stand_ins.stripe import AccountConfig, StripeStandIn, generate_account
from tests.stand_ins.stripe_helpers import call


def _updates(url: str, version: str | None = None) -> list[dict[str, Any]]:
    params = [("types[]", "customer.subscription.updated"), ("limit", "100")]
    status, body, _ = call(
        url, "/v1/events", params, headers={"Stripe-Version": version} if version else None
    )
    assert status == 200, body
    return list(body["data"])


def _keys(items: dict[str, Any]) -> list[tuple[str, object]]:
    return sorted((i["price"]["id"], i.get("quantity")) for i in items["data"])


def test_renewals_send_an_update_with_the_old_period() -> None:
    account = generate_account(AccountConfig(seed=5, invoices=600, history_days=40))
    with StripeStandIn(account) as server:
        updates = _updates(server.url)
        renewals = [
            e
            for e in updates
            if "items" in e["data"]["previous_attributes"]
            and _keys(e["data"]["previous_attributes"]["items"]) == _keys(e["data"]["object"]["items"])
        ]
        assert renewals, "no renewal update among the subscription updates"
        event = renewals[0]
        old = event["data"]["previous_attributes"]["items"]["data"][0]
        new = event["data"]["object"]["items"]["data"][0]
        assert old["current_period_end"] == new["current_period_start"] == event["created"]
        assert old["current_period_start"] < old["current_period_end"]


def test_before_basil_a_renewal_names_the_subscription_period() -> None:
    account = generate_account(
        AccountConfig(seed=5, invoices=600, history_days=40, api_version="2017-08-15", legacy_event_share=0.0)
    )
    with StripeStandIn(account) as server:
        renewals = [
            e
            for e in _updates(server.url)
            if set(e["data"]["previous_attributes"]) == {"current_period_start", "current_period_end"}
        ]
        assert renewals
        event = renewals[0]
        assert event["data"]["previous_attributes"]["current_period_end"] == event["created"]
        assert event["data"]["object"]["current_period_start"] == event["created"]


def test_without_renewal_events_the_account_is_as_before() -> None:
    with_renewals = generate_account(AccountConfig(seed=5, invoices=300, history_days=30))
    without = generate_account(AccountConfig(seed=5, invoices=300, history_days=30, renewal_events=False))
    assert [i.id for i in with_renewals.invoices] == [i.id for i in without.invoices]  # own random stream
    assert len(with_renewals.events) > len(without.events)


def test_expanding_an_array_of_ids_expands_each_one() -> None:
    with StripeStandIn(generate_account(AccountConfig(seed=5, invoices=100, history_days=30))) as server:
        status, body, _ = call(server.url, "/v1/invoices", [("limit", "3"), ("expand[]", "data.discounts")])
        assert status == 200, body
        assert all(isinstance(inv["discounts"], list) for inv in body["data"])
