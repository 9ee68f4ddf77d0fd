"""The stand-in renders objects in older API versions as Stripe's example objects of their time show
(stripe-fixtures/history/): events in the account's default version when they were created, requests in
their ``Stripe-Version`` (else the account's default)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stand_ins.stripe import Account, AccountConfig, StripeStandIn, generate_account
from stand_ins.stripe.render import event as render_event
from stand_ins.stripe.versions import CURRENT_API_VERSION, FILES

from .stripe_helpers import call

FIXTURES = Path(__file__).resolve().parents[2] / "stripe-fixtures"
REQUIRED = ("2017-08-15", "2018-11-08", "2020-08-27", "2024-06-20", CURRENT_API_VERSION)
OLD = REQUIRED[:-1]


def example_keys(version: str) -> dict[str, set[str]]:
    """Object kind -> every key Stripe's examples of ``version`` give it (events' payloads left out)."""
    resources = json.loads((FIXTURES / FILES[version]).read_text())["resources"]
    keys: dict[str, set[str]] = {}

    def collect(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                collect(item)
        elif isinstance(value, dict):
            kind = value.get("object")
            if isinstance(kind, str) and kind != "list":
                keys.setdefault(kind, set()).update(value)
            for key, child in value.items():
                if key != "metadata":
                    collect(child)

    for name, example in resources.items():
        if name != "event":
            collect(example)
    return keys


def objects(value: Any) -> Iterator[dict[str, Any]]:
    """Every Stripe object (a dict with ``object``, lists aside) in a payload."""
    if isinstance(value, list):
        for item in value:
            yield from objects(item)
    elif isinstance(value, dict):
        if isinstance(value.get("object"), str) and value["object"] != "list":
            yield value
        for key, child in value.items():
            if key != "metadata":
                yield from objects(child)


@pytest.fixture(scope="module")
def account() -> Account:
    return generate_account(AccountConfig(seed=5, invoices=600, history_days=60, refund_share=0.2))


@pytest.mark.parametrize("version", OLD)
def test_event_payloads_carry_exactly_the_keys_of_their_version(account: Account, version: str) -> None:
    examples = example_keys(version)
    seen: set[str] = set()
    for ev in account.events:
        rendered = render_event(ev, version)
        assert rendered["api_version"] == version
        for obj in objects(rendered["data"]["object"]):
            kind = obj["object"]
            if kind in examples:  # kinds a version's examples do not show follow a later file
                assert set(obj) == examples[kind], (version, kind, set(obj) ^ examples[kind])
                seen.add(kind)
    assert {"invoice", "line_item", "subscription", "subscription_item", "refund"} <= seen


def test_a_2017_invoice_is_shaped_as_in_2017(account: Account) -> None:
    paid = next(e for e in account.events if e.type == "invoice.paid" and e.obj.sub is not None)
    inv = render_event(paid, "2017-08-15")["data"]["object"]
    for gone in ("status", "status_transitions", "amount_paid", "customer_email", "created", "parent"):
        assert gone not in inv
    assert inv["date"] == paid.obj.created
    assert inv["paid"] is True and inv["closed"] is True and inv["forgiven"] is False
    line = next(ln for ln in inv["lines"]["data"] if ln["type"] == "subscription")
    plan = line["plan"]
    assert "product" not in plan and "nickname" not in plan
    price = next(ln.price for ln in paid.obj.lines if ln.id == line["id"])
    assert plan["name"] == price.product.name and plan["id"] == price.id


def test_2018_and_2020_invoices(account: Account) -> None:
    paid = next(e for e in account.events if e.type == "invoice.paid" and e.obj.sub is not None)
    v2018 = render_event(paid, "2018-11-08")["data"]["object"]
    assert v2018["amount_paid"] == paid.obj.paid_amount and v2018["status"] == "paid"
    assert "status_transitions" not in v2018 and v2018["finalized_at"] == paid.obj.finalized_at
    assert v2018["subscription"] == paid.obj.sub.id and v2018["date"] == paid.obj.created
    v2020 = render_event(paid, "2020-08-27")["data"]["object"]
    assert v2020["status_transitions"]["paid_at"] == paid.obj.paid_at
    assert v2020["customer_email"] == paid.obj.customer_email
    assert all("price" in ln and "plan" not in ln for ln in v2020["lines"]["data"])


def test_subscription_updates_keep_previous_attributes_in_their_version(account: Account) -> None:
    updated = next(e for e in account.events if e.type == "customer.subscription.updated" and e.previous)
    data = render_event(updated, "2017-08-15")["data"]
    examples = example_keys("2017-08-15")
    assert data["previous_attributes"]
    for obj in objects(data["previous_attributes"]):
        assert set(obj) == examples[obj["object"]]


@pytest.fixture(scope="module")
def old_account_url() -> Iterator[tuple[str, Account]]:
    cfg = AccountConfig(seed=6, invoices=300, history_days=40, api_version="2017-08-15", legacy_event_share=0)
    account = generate_account(cfg)
    with StripeStandIn(account) as server:
        yield server.url, account


def test_events_keep_the_account_version_whatever_the_request_pins(
    old_account_url: tuple[str, Account],
) -> None:
    url, _ = old_account_url
    pinned = {"Stripe-Version": CURRENT_API_VERSION}
    status, body, headers = call(url, "/v1/events", {"type": "invoice.paid", "limit": 5}, headers=pinned)
    assert status == 200 and headers["Stripe-Version"] == CURRENT_API_VERSION
    assert body["data"]
    for ev in body["data"]:
        assert ev["api_version"] == "2017-08-15"
        assert "date" in ev["data"]["object"] and "status" not in ev["data"]["object"]


def test_requests_get_their_stripe_version_else_the_account_default(
    old_account_url: tuple[str, Account],
) -> None:
    url, account = old_account_url
    inv = next(
        i for i in account.invoices if i.paid_at is not None and i.livemode and i.created < account.now
    )
    pinned = call(url, f"/v1/invoices/{inv.id}", headers={"Stripe-Version": CURRENT_API_VERSION})[1]
    assert pinned["status"] == "paid" and "parent" in pinned and "date" not in pinned
    status, default, headers = call(url, f"/v1/invoices/{inv.id}")
    assert status == 200 and headers["Stripe-Version"] == "2017-08-15"
    assert "date" in default and "status" not in default
    older = call(url, f"/v1/invoices/{inv.id}", headers={"Stripe-Version": "2020-08-27"})[1]
    assert older["status_transitions"]["paid_at"] == inv.paid_at and "parent" not in older
    lines = call(url, f"/v1/invoices/{inv.id}/lines", headers={"Stripe-Version": "2018-11-08"})[1]
    assert all("plan" in ln and "pricing" not in ln for ln in lines["data"])
    status, body, _ = call(url, f"/v1/invoices/{inv.id}", headers={"Stripe-Version": "2016-13-45"})
    assert status == 400 and body["error"]["type"] == "invalid_request_error"
    assert "Invalid Stripe API version" in body["error"]["message"]
