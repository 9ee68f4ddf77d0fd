"""Payment kinds of real accounts in the stand-in: Charges-API payments (no PaymentIntent), standalone
charges, one PaymentIntent paying several invoices; and Stripe's answers about them: invoice payments
cannot be filtered by charge (400), and a Charge carries ``invoice`` only in versions before basil."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from stand_ins.stripe import LIVE_KEY, Account, AccountConfig, StripeStandIn, generate_account
from stand_ins.stripe.truth import expected_refunds, refund_invoice

from .stripe_helpers import call

KINDS = {"charge_payment_share": 0.2, "standalone_charge_share": 0.3, "shared_payment_share": 0.1}


@pytest.fixture(scope="module")
def account() -> Account:
    return generate_account(AccountConfig(seed=31, invoices=1500, refund_share=0.2, **KINDS))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def url(account: Account) -> Iterator[str]:
    with StripeStandIn(account) as server:
        yield server.url


def get(url: str, path: str, version: str | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url + path, headers={"Authorization": f"Bearer {LIVE_KEY}"})
    if version is not None:
        request.add_header("Stripe-Version", version)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_the_kinds_are_generated_and_off_by_default(account: Account) -> None:
    charge_paid = [i for i in account.invoices if i.ch_id and i.pi_id is None and i.paid_at]
    assert charge_paid and any(r.invoice in charge_paid for r in account.refunds)
    assert any(r.invoice is None and r.charge is not None for r in account.refunds)
    shared: dict[str, int] = {}
    for inv in account.invoices:
        if inv.pi_id and inv.paid_at:
            shared[inv.pi_id] = shared.get(inv.pi_id, 0) + 1
    assert any(n > 1 for n in shared.values())
    assert any(r.invoice and shared.get(r.invoice.pi_id or "", 0) > 1 for r in account.refunds)
    plain = generate_account(AccountConfig(seed=31, invoices=300))
    assert all(i.pi_id for i in plain.invoices if i.ch_id) and not plain.charges


def test_invoice_payments_cannot_be_filtered_by_charge(url: str, account: Account) -> None:
    inv = next(i for i in account.invoices if i.livemode and i.pi_id is None and i.ch_id and i.paid_at)
    status, body, _ = call(
        url, "/v1/invoice_payments", [("payment[type]", "charge"), ("payment[charge]", inv.ch_id or "")]
    )
    assert status == 400 and body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] in ("payment[type]", "payment[charge]")
    status, body, _ = call(url, "/v1/invoice_payments", [("payment[type]", "charge")])
    assert status == 400 and body["error"]["param"] == "payment[type]"
    # By invoice it is listed, and says it was a charge.
    status, body, _ = call(url, "/v1/invoice_payments", [("invoice", inv.id)])
    assert status == 200 and body["data"][0]["payment"] == {"charge": inv.ch_id, "type": "charge"}
    shared = next(i for i in account.invoices if i.livemode and i.pi_id and i.sub is None and i.ip_id)
    params = [("payment[type]", "payment_intent"), ("payment[payment_intent]", shared.pi_id or "")]
    status, body, _ = call(url, "/v1/invoice_payments", params)
    assert status == 200 and {p["payment"]["type"] for p in body["data"]} == {"payment_intent"}


def test_a_charge_has_an_invoice_only_in_versions_before_basil(url: str, account: Account) -> None:
    inv = next(i for i in account.invoices if i.livemode and i.pi_id is None and i.ch_id and i.paid_at)
    status, pinned = get(url, f"/v1/charges/{inv.ch_id}")
    assert status == 200 and "invoice" not in pinned and pinned["payment_intent"] is None
    for version in ("2025-02-24.acacia", "2024-06-20"):
        status, old = get(url, f"/v1/charges/{inv.ch_id}", version)
        assert status == 200 and old["invoice"] == inv.id, version
    status, newer = get(url, f"/v1/charges/{inv.ch_id}", "2025-03-31.basil")
    assert status == 200 and "invoice" not in newer
    lone = next(c for c in account.charges if c.livemode)
    status, body = get(url, f"/v1/charges/{lone.id}", "2025-02-24.acacia")
    assert status == 200 and body["invoice"] is None
    status, body = get(url, f"/v1/charges/{lone.id}", "not-a-version")
    assert status == 400
    status, body = get(url, "/v1/charges/ch_missing")
    assert status == 404


def test_refunds_render_their_payment_as_stripe_does(url: str, account: Account) -> None:
    by_charge = next(
        r for r in account.refunds if r.invoice and r.invoice.pi_id is None and r.invoice.livemode
    )
    status, body = get(url, f"/v1/refunds/{by_charge.id}")
    assert status == 200 and body["payment_intent"] is None and body["charge"] == by_charge.invoice.ch_id  # type: ignore[union-attr]
    lone = next(r for r in account.refunds if r.invoice is None and r.livemode)
    status, body = get(url, f"/v1/refunds/{lone.id}")
    assert status == 200 and body["charge"] == lone.charge.id and body["payment_intent"] is None  # type: ignore[union-attr]


def test_truth_attributes_shared_payments_by_the_rule_and_skips_lone_charges(account: Account) -> None:
    want = expected_refunds(account, account.now)
    lone = {r.id for r in account.refunds if r.invoice is None}
    assert lone and not lone & set(want)
    moved = 0
    for refund in account.refunds:
        inv = refund_invoice(account, refund)
        if refund.id in want and inv is not None:
            assert want[refund.id]["invoice_id"] == inv.id
            siblings = [i for i in account.invoices if inv.pi_id and i.pi_id == inv.pi_id and i.paid_at]
            assert all(inv.paid_amount >= s.paid_amount for s in siblings)
            moved += inv is not refund.invoice
    shared_refunds = [
        r for r in account.refunds if r.invoice is not None and refund_invoice(account, r) is not r.invoice
    ]
    assert moved == len([r for r in shared_refunds if r.id in want])
