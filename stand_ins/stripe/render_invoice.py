"""JSON payloads of invoices and their lines, in the current shape and the pre-2025 ("legacy") shape."""

from __future__ import annotations

from typing import Any

from . import render_catalog
from .model import Invoice, Line

EMBEDDED_LINES = 10
_ADDRESS = {"city": None, "country": None, "line1": None, "line2": None, "postal_code": None, "state": None}


def line(ln: Line, inv: Invoice, legacy: bool = False) -> dict[str, Any]:
    sub_id = inv.sub.id if inv.sub is not None else None
    base: dict[str, Any] = {
        "amount": ln.amount,
        "currency": inv.currency,
        "description": ln.description,
        "discount_amounts": [],
        "discountable": not ln.proration,
        "discounts": [],
        "id": ln.id,
        "invoice": inv.id,
        "livemode": inv.livemode,
        "metadata": {},
        "object": "line_item",
        "period": {"end": ln.end, "start": ln.start},
        "quantity": ln.quantity,
    }
    if legacy:
        recurring = ln.price.interval is not None and ln.si_id is not None
        base.update(
            {
                "amount_excluding_tax": ln.amount,
                "invoice_item": None if recurring else "ii_" + ln.id[3:],
                "plan": render_catalog.plan(ln.price) if recurring else None,
                "price": render_catalog.price(ln.price),
                "proration": ln.proration,
                "proration_details": {"credited_items": None},
                "subscription": sub_id,
                "subscription_item": ln.si_id,
                "tax_amounts": [],
                "tax_rates": [],
                "type": "subscription" if recurring else "invoiceitem",
                "unit_amount_excluding_tax": str(ln.price.unit_amount),
            }
        )
        return base
    if ln.si_id is not None:
        parent: dict[str, Any] = {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": ln.proration,
                "proration_details": {"credited_items": None},
                "subscription": sub_id,
                "subscription_item": ln.si_id,
            },
            "type": "subscription_item_details",
        }
    else:
        parent = {
            "invoice_item_details": {
                "invoice_item": "ii_" + ln.id[3:],
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": None,
            },
            "subscription_item_details": None,
            "type": "invoice_item_details",
        }
    base.update(
        {
            "parent": parent,
            "pretax_credit_amounts": [],
            "pricing": {
                "price_details": {"price": ln.price.id, "product": ln.price.product.id},
                "type": "price_details",
                "unit_amount_decimal": str(ln.price.unit_amount),
            },
            "quantity_decimal": str(ln.quantity),
            "subscription": None,
            "subtotal": ln.amount,
            "taxes": [],
        }
    )
    return base


def lines_list(inv: Invoice, legacy: bool = False) -> dict[str, Any]:
    return {
        "data": [line(ln, inv, legacy) for ln in inv.lines[:EMBEDDED_LINES]],
        "has_more": len(inv.lines) > EMBEDDED_LINES,
        "object": "list",
        "total_count": len(inv.lines),
        "url": f"/v1/invoices/{inv.id}/lines",
    }


def credit_notes_amount(inv: Invoice, at: int) -> int:
    return sum(cn.amount for cn in inv.credit_notes if cn.created <= at)


def invoice(inv: Invoice, at: int, legacy: bool = False) -> dict[str, Any]:
    status = inv.status_at(at)
    finalized = status != "draft"
    paid = status == "paid"
    failed = inv.failed_at is not None and at >= inv.failed_at
    attempted = paid or failed
    amount_due = inv.amount_due
    amount_paid = inv.paid_amount if paid else 0
    remaining = 0 if status in ("paid", "void") else amount_due
    customer = inv.customer
    sub = inv.sub
    period_start = min((ln.start for ln in inv.lines), default=inv.created)
    period_end = max((ln.end for ln in inv.lines), default=inv.created)
    cn_amount = credit_notes_amount(inv, at)
    out: dict[str, Any] = {
        "account_country": "US",
        "account_name": "Stand-in Billing Co.",
        "account_tax_ids": None,
        "amount_due": amount_due,
        "amount_overpaid": 0,
        "amount_paid": amount_paid,
        "amount_remaining": remaining,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": (1 if attempted else 0) + (1 if failed and paid else 0),
        "attempted": attempted,
        "auto_advance": status in ("draft", "open"),
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": inv.finalized_at if not finalized else None,
        "billing_reason": inv.billing_reason,
        "collection_method": "charge_automatically",
        "created": inv.created,
        "currency": inv.currency,
        "custom_fields": None,
        "customer": customer.id,
        "customer_account": None,
        "customer_address": None,
        "customer_email": inv.customer_email if finalized else customer.email_at(at),
        "customer_name": customer.name,
        "customer_phone": None,
        "customer_shipping": None,
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "due_date": None,
        "effective_at": inv.finalized_at if finalized else None,
        "ending_balance": min(0, inv.total + inv.starting_balance) if finalized else None,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": f"https://invoice.stripe.com/i/{inv.id}" if finalized else None,
        "id": inv.id,
        "invoice_pdf": f"https://pay.stripe.com/invoice/{inv.id}/pdf" if finalized else None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": lines_list(inv, legacy),
        "livemode": inv.livemode,
        "metadata": {},
        "next_payment_attempt": None,
        "number": inv.number if finalized else None,
        "object": "invoice",
        "on_behalf_of": None,
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "period_end": period_end if sub is not None else inv.created,
        "period_start": period_start if sub is not None else inv.created,
        "post_payment_credit_notes_amount": cn_amount,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": inv.starting_balance,
        "statement_descriptor": None,
        "status": status,
        "status_transitions": {
            "finalized_at": inv.finalized_at if finalized else None,
            "marked_uncollectible_at": inv.uncollectible_at if status == "uncollectible" else None,
            "paid_at": inv.paid_at if paid else None,
            "voided_at": inv.voided_at if status == "void" else None,
        },
        "subtotal": inv.total,
        "subtotal_excluding_tax": inv.total,
        "test_clock": None,
        "total": inv.total,
        "total_discount_amounts": [],
        "total_excluding_tax": inv.total,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": inv.created,
    }
    if legacy:
        out.update(
            {
                "charge": inv.ch_id if attempted else None,
                "paid": paid,
                "paid_out_of_band": False,
                "payment_intent": inv.pi_id if finalized else None,
                "subscription": sub.id if sub is not None else None,
                "subscription_details": {"metadata": inv.sub_metadata} if sub is not None else None,
                "tax": None,
                "total_tax_amounts": [],
            }
        )
        for key in ("total_pretax_credit_amounts", "total_taxes", "amount_overpaid"):
            del out[key]
    else:
        out["parent"] = (
            {
                "quote_details": None,
                "subscription_details": {"metadata": inv.sub_metadata, "subscription": sub.id},
                "type": "subscription_details",
            }
            if sub is not None
            else None
        )
    return out
