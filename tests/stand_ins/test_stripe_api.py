"""The /v1/ API of the Stripe stand-in: auth, modes, lists, cursors, filters, expansion, errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stand_ins.stripe import (
    LIVE_KEY,
    RESTRICTED_LIVE_KEY,
    RESTRICTED_NO_INVOICES_KEY,
    TEST_KEY,
    Account,
    AccountConfig,
    StripeStandIn,
    generate_account,
)

from .stripe_helpers import call, walk


@pytest.fixture(scope="module")
def account() -> Account:
    return generate_account(AccountConfig(seed=11, invoices=1500, many_items_share=0.02))


@pytest.fixture(scope="module")
def url(account: Account) -> Iterator[str]:
    with StripeStandIn(account) as server:
        yield server.url


def test_auth_errors(url: str) -> None:
    status, body, headers = call(url, "/v1/invoices", key="sk_live_wrongwrongwrongwrongabcd")
    assert status == 401
    assert body["error"] == {
        "message": "Invalid API Key provided: sk_live_****abcd",
        "type": "invalid_request_error",
    }
    assert headers["Request-Id"].startswith("req_")
    status, body, _ = call(url, "/v1/invoices", key="pk_live_whatever")
    assert status == 401
    assert body["error"]["message"].startswith("This API call cannot be made with a publishable API key")
    status, body, _ = call(url, "/v1/invoices", key=None)
    assert status == 401
    assert "did not provide an API key" in body["error"]["message"]


def test_restricted_keys_and_basic_auth(url: str) -> None:
    assert call(url, "/v1/invoices", key=RESTRICTED_LIVE_KEY)[0] == 200
    status, body, _ = call(url, "/v1/invoices", key=RESTRICTED_NO_INVOICES_KEY)
    assert status == 403
    assert "rak_invoice_read" in body["error"]["message"]
    assert RESTRICTED_NO_INVOICES_KEY not in body["error"]["message"]
    assert call(url, "/v1/events", key=RESTRICTED_NO_INVOICES_KEY)[0] == 200
    assert call(url, "/v1/invoices", key=LIVE_KEY, basic=True)[0] == 200


def test_add_key(account: Account) -> None:
    with StripeStandIn(account) as server:
        server.add_key("rk_test_onlyprices", livemode=False, permissions={"rak_plan_read"})
        assert call(server.url, "/v1/prices", key="rk_test_onlyprices")[0] == 200
        assert call(server.url, "/v1/customers", key="rk_test_onlyprices")[0] == 403


def test_modes_are_separate(url: str) -> None:
    live = call(url, "/v1/invoices", {"limit": 100})[1]["data"]
    test = call(url, "/v1/invoices", {"limit": 100}, key=TEST_KEY)[1]["data"]
    assert live and test
    assert all(inv["livemode"] for inv in live)
    assert not any(inv["livemode"] for inv in test)
    status, body, _ = call(url, f"/v1/invoices/{test[0]['id']}")
    assert status == 404
    assert body["error"]["code"] == "resource_missing"
    assert body["error"]["message"] == f"No such invoice: '{test[0]['id']}'"


def test_pagination_both_directions(url: str) -> None:
    everything = walk(url, "/v1/invoices")
    keys = [(inv["created"], inv["id"]) for inv in everything]
    assert keys == sorted(keys, reverse=True)
    assert len({inv["id"] for inv in everything}) == len(everything)
    first = call(url, "/v1/invoices", {"limit": 5})[1]
    assert [i["id"] for i in first["data"]] == [i["id"] for i in everything[:5]]
    assert first["has_more"] and first["url"] == "/v1/invoices" and first["object"] == "list"
    page = call(url, "/v1/invoices", {"limit": 5, "ending_before": everything[12]["id"]})[1]
    assert [i["id"] for i in page["data"]] == [i["id"] for i in everything[7:12]]
    assert page["has_more"]
    page = call(url, "/v1/invoices", {"limit": 5, "ending_before": everything[3]["id"]})[1]
    assert [i["id"] for i in page["data"]] == [i["id"] for i in everything[:3]]
    assert not page["has_more"]
    tail = call(url, "/v1/invoices", {"limit": 5, "starting_after": everything[-3]["id"]})[1]
    assert [i["id"] for i in tail["data"]] == [i["id"] for i in everything[-2:]]
    assert not tail["has_more"]


def test_bad_cursor_and_limits(url: str) -> None:
    status, body, _ = call(url, "/v1/invoices", {"starting_after": "in_nope"})
    assert status == 400
    assert body["error"]["code"] == "resource_missing"
    assert body["error"]["param"] == "starting_after"
    assert call(url, "/v1/events", {"ending_before": "evt_nope"})[0] == 400
    for bad in ("0", "101", "abc"):
        status, body, _ = call(url, "/v1/invoices", {"limit": bad})
        assert status == 400, bad
        assert body["error"]["param"] == "limit"
    assert len(call(url, "/v1/invoices", {"limit": 100})[1]["data"]) == 100
    assert len(call(url, "/v1/invoices")[1]["data"]) == 10


def test_created_filters(url: str, account: Account) -> None:
    everything = walk(url, "/v1/invoices")
    pivot = everything[len(everything) // 2]["created"]
    gte = walk(url, "/v1/invoices", {"created[gte]": pivot})
    assert gte and all(i["created"] >= pivot for i in gte)
    assert len(gte) == sum(1 for i in everything if i["created"] >= pivot)
    gt = walk(url, "/v1/invoices", {"created[gt]": pivot})
    assert all(i["created"] > pivot for i in gt)
    lt = walk(url, "/v1/invoices", {"created[lt]": pivot, "created[gte]": pivot - 30 * 86400})
    assert lt and all(pivot - 30 * 86400 <= i["created"] < pivot for i in lt)
    exact = walk(url, "/v1/invoices", {"created": pivot})
    assert exact and all(i["created"] == pivot for i in exact)
    assert all(i["created"] <= account.now for i in everything)


def test_status_filters(url: str) -> None:
    for status in ("paid", "open", "void", "uncollectible", "draft"):
        found = walk(url, "/v1/invoices", {"status": status})
        assert found, status
        assert all(i["status"] == status for i in found)
    paid = walk(url, "/v1/invoices", {"status": "paid"})
    assert all(i["status_transitions"]["paid_at"] is not None for i in paid)
    active = walk(url, "/v1/subscriptions")
    everything = walk(url, "/v1/subscriptions", {"status": "all"})
    canceled = walk(url, "/v1/subscriptions", {"status": "canceled"})
    assert canceled and not any(s["status"] == "canceled" for s in active)
    assert len(everything) == len(active) + len(canceled)
    reasons = {s["cancellation_details"]["reason"] for s in canceled}
    assert reasons == {"cancellation_requested", "payment_failed"}


def test_secondary_filters(url: str) -> None:
    inv = next(i for i in walk(url, "/v1/invoices", {"status": "paid"}) if i["amount_paid"] > 0)
    by_customer = walk(url, "/v1/invoices", {"customer": inv["customer"]})
    assert inv["id"] in {i["id"] for i in by_customer}
    assert all(i["customer"] == inv["customer"] for i in by_customer)
    sub_id = inv["parent"]["subscription_details"]["subscription"] if inv["parent"] else None
    if sub_id:
        by_sub = walk(url, "/v1/invoices", {"subscription": sub_id})
        assert all(i["parent"]["subscription_details"]["subscription"] == sub_id for i in by_sub)
    payments = walk(url, "/v1/invoice_payments", {"invoice": inv["id"]})
    assert len(payments) == 1 and payments[0]["invoice"] == inv["id"]
    pi = payments[0]["payment"]["payment_intent"]
    by_pi = call(
        url, "/v1/invoice_payments", [("payment[type]", "payment_intent"), ("payment[payment_intent]", pi)]
    )
    assert [p["id"] for p in by_pi[1]["data"]] == [payments[0]["id"]]
    notes = walk(url, "/v1/credit_notes")
    assert notes
    for_invoice = walk(url, "/v1/credit_notes", {"invoice": notes[0]["invoice"]})
    assert notes[0]["id"] in {n["id"] for n in for_invoice}


def test_prices_active_filter_and_expand(url: str) -> None:
    every = walk(url, "/v1/prices", {"expand[]": "data.product"})
    assert {p["active"] for p in every} == {True, False}
    assert all(isinstance(p["product"], dict) and p["product"]["object"] == "product" for p in every)
    active = walk(url, "/v1/prices", {"active": "true"})
    assert all(p["active"] for p in active) and len(active) < len(every)
    legacy = [p for p in every if p["id"].endswith("-legacy")]
    assert legacy
    one = call(url, f"/v1/prices/{legacy[0]['id']}", {"expand[]": "product"})[1]
    assert one["product"]["name"]


def test_expand_levels(url: str) -> None:
    page = call(url, "/v1/invoices", [("expand[]", "data.customer"), ("limit", "3")])[1]
    assert all(i["customer"]["object"] == "customer" for i in page["data"])
    indexed = call(url, "/v1/invoices", [("expand[0]", "data.customer"), ("limit", "1")])[1]
    assert indexed["data"][0]["customer"]["object"] == "customer"
    inv = walk(url, "/v1/invoices", {"status": "paid"})[0]
    one = call(url, f"/v1/invoices/{inv['id']}", {"expand[]": "customer"})[1]
    assert one["customer"]["id"] == inv["customer"]
    deep = "data.lines.data.pricing.price_details.price"
    status, body, _ = call(url, "/v1/invoices", {"expand[]": deep})
    assert status == 400
    assert body["error"]["message"] == "You cannot expand more than 4 levels of a property"
    status, _, _ = call(url, "/v1/invoices", {"expand[]": "data.parent.subscription_details.subscription"})
    assert status == 200
    assert call(url, "/v1/invoices", {"expand[]": "customer"})[0] == 400


def test_events_types_and_retention(url: str, account: Account) -> None:
    events = walk(url, "/v1/events")
    assert events
    assert all(e["created"] >= account.now - 30 * 86400 for e in events)
    old = [e for e in account.events if e.created < account.now - 30 * 86400 and e.livemode]
    assert old
    assert call(url, f"/v1/events/{old[0].id}")[0] == 404
    paid = walk(url, "/v1/events", {"type": "invoice.paid"})
    assert paid and all(e["type"] == "invoice.paid" for e in paid)
    both = walk(url, "/v1/events", [("types[]", "invoice.paid"), ("types[]", "invoice.created")])
    assert {e["type"] for e in both} == {"invoice.paid", "invoice.created"}
    indexed = walk(url, "/v1/events", [("types[0]", "invoice.paid"), ("types[1]", "invoice.created")])
    assert [e["id"] for e in indexed] == [e["id"] for e in both]
    too_many = [("types[]", f"invoice.t{i}") for i in range(21)]
    assert call(url, "/v1/events", too_many)[0] == 400
    one = call(url, f"/v1/events/{paid[0]['id']}")[1]
    assert one["data"]["object"]["status"] == "paid"


def test_invoice_lines_paging(url: str, account: Account) -> None:
    big = next(i for i in account.invoices if len(i.lines) > 10 and i.livemode and i.created <= account.now)
    inv = call(url, f"/v1/invoices/{big.id}")[1]
    assert len(inv["lines"]["data"]) == 10 and inv["lines"]["has_more"]
    assert inv["lines"]["total_count"] == len(big.lines)
    lines = walk(url, f"/v1/invoices/{big.id}/lines", {"limit": 4})
    assert [ln["id"] for ln in lines] == [ln.id for ln in big.lines]
    page = call(url, f"/v1/invoices/{big.id}/lines", {"limit": 3, "ending_before": big.lines[5].id})[1]
    assert [ln["id"] for ln in page["data"]] == [ln.id for ln in big.lines[2:5]]
    assert call(url, f"/v1/invoices/{big.id}/lines", {"starting_after": "il_x"})[0] == 400
    assert call(url, "/v1/invoices/in_missing/lines")[0] == 404


def test_retrieve_everything_and_unknown_route(url: str) -> None:
    for segment in ("customers", "products", "subscriptions", "refunds", "credit_notes", "invoice_payments"):
        first = call(url, f"/v1/{segment}", {"limit": 1})[1]["data"][0]
        assert call(url, f"/v1/{segment}/{first['id']}")[1]["id"] == first["id"]
    status, body, _ = call(url, "/v1/nothing_here")
    assert status == 404 and "Unrecognized request URL" in body["error"]["message"]
    refund = call(url, "/v1/refunds", {"limit": 1})[1]["data"][0]
    assert "livemode" not in refund and refund["charge"] and refund["payment_intent"]
