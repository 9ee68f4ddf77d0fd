"""The stand-in refuses parameters as Stripe does, from stripe-python 16.1.0's generated ``stripe.params``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stand_ins.stripe import AccountConfig, StripeStandIn, generate_account
from stand_ins.stripe.errors import StripeError
from stand_ins.stripe.strict_params import ENDPOINT_PARAMS, check

from .stripe_helpers import call


@pytest.mark.parametrize(
    ("template", "pairs"),
    [
        (
            "/v1/events",
            [("types[]", "invoice.paid"), ("created[gte]", "1"), ("created[lt]", "2"), ("limit", "100")],
        ),
        ("/v1/events", [("types[0]", "refund.created"), ("types[1]", "refund.updated"), ("created", "5")]),
        ("/v1/invoices", [("status", "paid"), ("limit", "1"), ("expand[]", "data.customer")]),
        ("/v1/subscriptions", [("status", "all"), ("created[lt]", "9"), ("starting_after", "sub_1")]),
        ("/v1/invoice_payments", [("payment[type]", "payment_intent"), ("payment[payment_intent]", "pi_1")]),
        ("/v1/prices", [("active", "false"), ("expand[]", "data.product")]),
        ("/v1/prices/{id}", [("expand[]", "product")]),
        ("/v1/invoices/{id}/lines", [("limit", "100"), ("starting_after", "il_1")]),
        ("/v1/customers/{id}", []),
    ],
)
def test_what_stripe_accepts(template: str, pairs: list[tuple[str, str]]) -> None:
    check("GET", template, pairs)


@pytest.mark.parametrize(
    ("template", "pairs", "message"),
    [
        ("/v1/invoices", [("paid", "true")], "Received unknown parameter: paid"),
        ("/v1/events", [("created[since]", "1")], "Received unknown parameter: created[since]"),
        ("/v1/events", [("limit", "ten")], "Invalid integer: ten"),
        ("/v1/events", [("delivery_success", "yes")], "Invalid boolean: yes"),
        (
            "/v1/invoices",
            [("status", "succeeded")],
            "Invalid status: must be one of draft, open, paid, uncollectible, or void",
        ),
        # The SDK widens the enum with |str; Stripe takes only its Literal values.
        (
            "/v1/invoice_payments",
            [("payment[type]", "charge"), ("payment[charge]", "ch_1")],
            "Invalid payment[type]: must be one of payment_intent or payment_record",
        ),
        (
            "/v1/invoice_payments",
            [("payment[payment_intent]", "pi_1")],
            "Missing required param: payment[type].",
        ),
        ("/v1/prices/{id}", [("limit", "1")], "Received unknown parameter: limit"),
        ("/v1/invoices", [("expand", "data.customer")], "Invalid array"),
    ],
)  # fmt: skip
def test_what_stripe_refuses(template: str, pairs: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(StripeError) as info:
        check("GET", template, pairs)
    assert info.value.status == 400
    assert info.value.body()["error"]["message"] == message
    assert info.value.body()["error"]["type"] == "invalid_request_error"


def test_every_route_has_its_sdk_type() -> None:
    from stand_ins.stripe.api import ROUTES

    assert {(r.method, r.template) for r in ROUTES} <= set(ENDPOINT_PARAMS)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with StripeStandIn(generate_account(AccountConfig(seed=2, invoices=100))) as server:
        yield server.url


def test_the_server_answers_400(url: str) -> None:
    status, body, _ = call(url, "/v1/invoices", {"paid": "true"})
    assert status == 400
    assert body == {
        "error": {
            "message": "Received unknown parameter: paid",
            "param": "paid",
            "type": "invalid_request_error",
        }
    }
    status, body, _ = call(
        url, "/v1/invoice_payments", [("payment[type]", "charge"), ("payment[charge]", "ch_1")]
    )
    assert status == 400 and body["error"]["param"] == "payment[type]"
