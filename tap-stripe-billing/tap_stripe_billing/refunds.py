"""Subscription refunds: which invoice a refund counts against, and its record. Pure functions, no I/O.

A succeeded refund of a payment that paid a subscription invoice, amount positive in major
units. The link (``refund_link``): a PaymentIntent's invoices come from ``GET /v1/invoice_payments``
(``payment[type]=payment_intent``); a charge with no PaymentIntent (Charges API) cannot be filtered on
there, and since 2025-03-31.basil a Charge has no ``invoice``: the charge is read once in the last API
version that still has it (``CHARGE_INVOICE_VERSION``, Stripe's per-request ``Stripe-Version``), then
its invoice. A charge of no invoice is no subscription refund (skipped, counted ``not_invoiced``).
When one PaymentIntent paid several invoices, the refund counts against the invoice with the largest
amount paid (ties: the oldest invoice payment, then the smallest id): ``attributed_invoice``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tap_stripe_billing import money
from tap_stripe_billing import records as rec

# The last API version in which a Charge carries ``invoice`` (2025-03-31.basil removed it).
CHARGE_INVOICE_VERSION = "2025-02-24.acacia"


def refund_link(refund: Mapping[str, Any]) -> tuple[str, str] | None:
    """How to find the refunded invoice: ("payment_intent", id) for ``GET /v1/invoice_payments``, else
    ("charge", id) for a Charges-API payment (no PaymentIntent), else None."""
    for kind in ("payment_intent", "charge"):
        value = refund.get(kind)
        if isinstance(value, Mapping):
            value = value.get("id")
        if value:
            return kind, str(value)
    return None


def attributed_invoice(invoice_payments: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The invoice (expanded) a refund of one payment counts against: among the payment's invoice payments
    (paid ones first), the largest ``amount_paid``; ties: the oldest invoice payment, then the smallest id."""

    def rank(ip: Mapping[str, Any]) -> tuple[int, int, int, str]:
        unpaid = 0 if ip.get("status") == "paid" else 1
        return (unpaid, -int(ip.get("amount_paid") or 0), int(ip.get("created") or 0), str(ip.get("id")))

    linked = [ip for ip in invoice_payments if isinstance(ip.get("invoice"), Mapping)]
    if not linked:
        return None
    return dict(min(linked, key=rank)["invoice"])


def refund_record(refund: Mapping[str, Any], invoice: Mapping[str, Any], email: str | None) -> dict[str, Any]:
    """The ``subscription_refunded`` record: a refund of the payment of ``invoice``."""
    currency = str(refund.get("currency") or invoice.get("currency") or "").lower()
    return {
        "refund_id": str(refund["id"]),
        "invoice_id": str(invoice["id"]),
        "subscription_id": rec.subscription_id(invoice),
        "customer_id": rec.customer_id(invoice),
        "customer_email": email,
        "refunded_at": rec.iso_utc(int(refund["created"])),
        "amount": money.minor_to_major(int(refund.get("amount") or 0), currency),
        "currency": currency,
        "reason": refund.get("reason"),
    }
