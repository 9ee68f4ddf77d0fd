"""Which event payloads are complete for their record, whatever their API version: Stripe's own example
objects over the years (stripe-fixtures/history/) decide; and the run's one line about versions."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from tap_stripe_billing import payload_versions as pv

FIXTURES = Path(__file__).resolve().parents[2] / "stripe-fixtures"
FILES = {
    "2017-08-15": "history/fixtures-2017-10-31.json",
    "2018-11-08": "history/fixtures-2018-11-28.json",
    "2019-05-16": "history/fixtures-2019-05-31.json",
    "2020-08-27": "history/fixtures-2020-09-29.json",
    "2024-06-20": "history/fixtures-2024-06-21.json",
    "2025-03-31.basil": "history/fixtures-2025-03-25.json",
    "pinned": "fixtures.json",
}


def example(version: str, kind: str) -> dict[str, Any]:
    resources: dict[str, Any] = json.loads((FIXTURES / FILES[version]).read_text())["resources"]
    return resources[kind]


@pytest.mark.parametrize(
    ("version", "complete"),
    [
        ("2017-08-15", False),  # no status, paid_at, amount_paid, customer_email; plans by name
        ("2018-11-08", False),  # amount_paid and status, but no status_transitions
        ("2019-05-16", False),  # status_transitions, but lines still name plans only
        ("2020-08-27", True),
        ("2024-06-20", True),
        ("2025-03-31.basil", True),
        ("pinned", True),
    ],
)
def test_invoice_payloads(version: str, complete: bool) -> None:
    assert pv.invoice_complete(example(version, "invoice")) is complete


@pytest.mark.parametrize(
    ("version", "refund", "cancellation"),
    [
        ("2017-08-15", False, False),
        ("2018-11-08", False, False),  # a reason, but no payment_intent yet
        ("2020-08-27", True, False),
        ("2024-06-20", True, True),
        ("pinned", True, True),
    ],
)
def test_refund_and_subscription_payloads(version: str, refund: bool, cancellation: bool) -> None:
    assert pv.refund_complete(example(version, "refund")) is refund
    assert pv.cancellation_complete(example(version, "subscription")) is cancellation


def test_subscription_currency_before_subscriptions_had_one() -> None:
    old = example("2017-08-15", "subscription")
    assert "currency" not in old
    assert pv.subscription_currency(old, ["usd", "usd", None]) == "usd"
    assert pv.subscription_currency({"currency": "eur"}, ["usd"]) == "eur"
    assert pv.subscription_currency(old, ["usd", "eur"]) == ""  # Stripe allows no such subscription


def test_object_path_quotes_ids() -> None:
    assert pv.object_path("prices", "Gold plan/2016 #1") == "/v1/prices/Gold%20plan%2F2016%20%231"
    assert pv.object_path("invoices", "in_1", "/lines") == "/v1/invoices/in_1/lines"


class Getter:
    def __init__(self) -> None:
        self.paths: list[str] = []

    def get(self, path: str, params: Any = (), *, missing_ok: bool = False) -> dict[str, Any] | None:
        self.paths.append(path)
        return None if path.endswith("gone") else {"id": path.rsplit("/", 1)[1]}


def test_fetches_are_counted_and_summed_in_one_line() -> None:
    run, counts, api = pv.PayloadVersions(), Counter[str](), Getter()
    assert run.log_line() is None  # no events read: nothing to say
    for _ in range(3):
        run.saw({"api_version": "2017-08-15"})
    assert pv.fetch(api, "invoices", "in_1", counts, run) == {"id": "in_1"}
    assert pv.fetch(api, "refunds", "gone", counts, run) is None
    assert api.paths == ["/v1/invoices/in_1", "/v1/refunds/gone"]
    assert counts == {"invoices": 1, "refunds": 1}
    line = run.log_line()
    assert line is not None and "\n" not in line
    assert "2017-08-15 (3 events)" in line
    assert "would avoid these 2 requests" in line and pv.PINNED_API_VERSION in line

    current = pv.PayloadVersions()
    current.saw({"api_version": pv.PINNED_API_VERSION})
    assert "upgrading would save no requests" in (current.log_line() or "")
