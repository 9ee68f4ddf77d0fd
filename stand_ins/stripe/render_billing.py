"""JSON payloads of charges, refunds, credit notes and invoice payments (subscriptions and their items:
``render_subscription``)."""

from __future__ import annotations

from typing import Any

from .model import Charge, CreditNote, Invoice, InvoicePayment, Refund

# The first API version without ``charge.invoice`` (2025-03-31.basil moved invoice payments to
# InvoicePayment objects): a request sent with an older ``Stripe-Version`` still gets the field.
CHARGE_INVOICE_REMOVED = "2025-03-31"


def has_charge_invoice(version: str | None) -> bool:
    """Whether a Charge rendered in ``version`` (None: the pinned one) carries ``invoice``."""
    return version is not None and version[:10] < CHARGE_INVOICE_REMOVED


def charge(source: Invoice | Charge, at: int, version: str | None = None) -> dict[str, Any]:
    """The charge that paid an invoice, or a standalone charge; ``invoice`` only in versions before basil."""
    if isinstance(source, Invoice):
        inv: Invoice | None = source
        ch_id, pi_id, amount, created = source.ch_id, source.pi_id, source.paid_amount, source.paid_at
    else:
        inv = None
        ch_id, pi_id, amount, created = source.id, None, source.amount, source.created
    refunded = sum(r.amount for r in source.refunds if r.created <= at and r.status == "succeeded")
    out = {
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": refunded,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": "txn_" + (ch_id or "")[3:],
        "billing_details": {
            "address": None,
            "email": None,
            "name": source.customer.name,
            "phone": None,
            "tax_id": None,
        },
        "calculated_statement_descriptor": "STAND-IN BILLING",
        "captured": True,
        "created": created,
        "currency": source.currency,
        "customer": source.customer.id,
        "description": "Subscription update" if inv is not None and inv.sub is not None else None,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "id": ch_id,
        "livemode": source.livemode,
        "metadata": {},
        "object": "charge",
        "on_behalf_of": None,
        "outcome": None,
        "paid": True,
        "payment_intent": pi_id,
        "payment_method": "pm_" + (pi_id or ch_id or "")[3:],
        "payment_method_details": None,
        "receipt_email": None,
        "receipt_number": None,
        "receipt_url": None,
        "refunded": refunded >= amount,
        "refunds": {
            "data": [],
            "has_more": False,
            "object": "list",
            "url": f"/v1/charges/{ch_id}/refunds",
        },
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded",
        "transfer_data": None,
        "transfer_group": None,
    }
    if has_charge_invoice(version):
        out["invoice"] = inv.id if inv is not None else None
    return out


def refund(r: Refund) -> dict[str, Any]:
    """No ``livemode`` key: Stripe's Refund object has none."""
    return {
        "amount": r.amount,
        "balance_transaction": "txn_" + r.id[3:] if r.status == "succeeded" else None,
        "charge": r.ch_id,
        "created": r.created,
        "currency": r.currency,
        "customer": r.customer.id,
        "customer_account": None,
        "destination_details": {"card": {"type": "refund"}, "type": "card"},
        "id": r.id,
        "metadata": {},
        "object": "refund",
        "payment_intent": r.pi_id,
        "payment_method": "pm_" + (r.pi_id or r.ch_id or "")[3:],
        "reason": r.reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": r.status,
        "transfer_reversal": None,
    }


def credit_note(cn: CreditNote) -> dict[str, Any]:
    inv = cn.invoice
    return {
        "amount": cn.amount,
        "amount_shipping": 0,
        "created": cn.created,
        "currency": inv.currency,
        "customer": inv.customer.id,
        "customer_account": None,
        "customer_balance_transaction": None,
        "discount_amount": 0,
        "discount_amounts": [],
        "effective_at": cn.created,
        "id": cn.id,
        "invoice": inv.id,
        "lines": {
            "data": [
                {
                    "amount": cn.amount,
                    "description": "Refund",
                    "discount_amount": 0,
                    "discount_amounts": [],
                    "id": "cnli_" + cn.id[3:],
                    "livemode": inv.livemode,
                    "metadata": {},
                    "object": "credit_note_line_item",
                    "pretax_credit_amounts": [],
                    "quantity": 1,
                    "tax_rates": [],
                    "taxes": [],
                    "type": "custom_line_item",
                    "unit_amount": cn.amount,
                    "unit_amount_decimal": str(cn.amount),
                }
            ],
            "has_more": False,
            "object": "list",
            "url": f"/v1/credit_notes/{cn.id}/lines",
        },
        "livemode": inv.livemode,
        "memo": None,
        "metadata": {},
        "number": cn.number,
        "object": "credit_note",
        "out_of_band_amount": None,
        "pdf": f"https://pay.stripe.com/credit_notes/{cn.id}/pdf",
        "post_payment_amount": cn.amount,
        "pre_payment_amount": 0,
        "pretax_credit_amounts": [],
        "reason": "order_change" if cn.refund is None else "requested_by_customer",
        "refunds": [
            {
                "amount_refunded": cn.amount,
                "payment_record_refund": None,
                "refund": cn.refund.id,
                "type": "refund",
            }
        ]
        if cn.refund is not None
        else [],
        "shipping_cost": None,
        "status": "issued",
        "subtotal": cn.amount,
        "subtotal_excluding_tax": cn.amount,
        "total": cn.amount,
        "total_excluding_tax": cn.amount,
        "total_taxes": [],
        "type": "post_payment",
        "voided_at": None,
    }


def invoice_payment(ip: InvoicePayment, at: int) -> dict[str, Any]:
    inv = ip.invoice
    status = inv.status_at(at)
    paid = status == "paid"
    return {
        "amount_paid": inv.paid_amount if paid else None,
        "amount_requested": inv.amount_due,
        "created": ip.created,
        "currency": inv.currency,
        "id": ip.id,
        "invoice": inv.id,
        "is_default": True,
        "livemode": inv.livemode,
        "object": "invoice_payment",
        "payment": (
            {"payment_intent": inv.pi_id, "type": "payment_intent"}
            if inv.pi_id is not None
            else {"charge": inv.ch_id, "type": "charge"}
        ),
        "status": "paid" if paid else "canceled" if status in ("void", "uncollectible") else "open",
        "status_transitions": {"canceled_at": None, "paid_at": inv.paid_at if paid else None},
    }
