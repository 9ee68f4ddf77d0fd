"""Ground truth computed from what the generator decided (its own records), not from rendered payloads."""

from __future__ import annotations

from typing import Any

from .account import Account
from .model import Invoice, Price, Refund
from .money import billing_length_months, iso, to_major


def plan_level(price: Price) -> str:
    """nickname, else lookup_key, else the product name, else the price id."""
    return price.nickname or price.lookup_key or price.product.name or price.id


def email_for(inv: Invoice, now: int) -> str | None:
    """The invoice's finalization snapshot, else the customer's email as of ``now``; trimmed, case kept."""
    raw = inv.customer_email if inv.customer_email is not None else inv.customer.email_at(now)
    if raw is None:
        return None
    return raw.strip() or None


def expected_billed(
    account: Account,
    paid_before: int,
    paid_from: int | None = None,
    *,
    include_test: bool = False,
    include_zero: bool = False,
    paid_events_before: int | None = None,
) -> dict[str, dict[str, Any]]:
    """invoice_id -> the ``subscription_billed`` record the tap must emit (SPEC §2).

    Qualifying invoices: paid as of the account clock, ``paid_from <= paid_at < paid_before``, live (unless
    ``include_test``), ``amount_paid > 0`` (unless ``include_zero``), with a subscription parent.
    The main line is the one the generator marked: the non-proration line with the largest amount, or
    for a proration-only invoice its largest positive proration line.

    ``paid_events_before``: what a reader of ``invoice.paid`` events can have seen so far. Invoices whose
    paid event Stripe created at or after this time, or has not made visible by the clock, are left out
    (they are paid, and a later read of the events will find them); invoices whose paid event predates
    the account's event history are kept.
    """
    now = account.now
    unseen: set[str] = set()
    if paid_events_before is not None:
        unseen = {
            ev.obj.id
            for ev in account.events
            if ev.type == "invoice.paid" and (ev.created >= paid_events_before or ev.visible_at > now)
        }
    out: dict[str, dict[str, Any]] = {}
    for inv in account.invoices:
        paid_at = inv.paid_at
        if paid_at is None or paid_at > now or paid_at >= paid_before or inv.id in unseen:
            continue
        if paid_from is not None and paid_at < paid_from:
            continue
        if inv.sub is None or (not inv.livemode and not include_test):
            continue
        if inv.paid_amount <= 0 and not include_zero:
            continue
        main = inv.main_line
        assert main is not None
        price = main.price
        out[inv.id] = {
            "invoice_id": inv.id,
            "paid_at": iso(paid_at),
            "customer_id": inv.customer.id,
            "customer_email": email_for(inv, now),
            "subscription_id": inv.sub.id,
            "amount": to_major(inv.paid_amount, inv.currency),
            "amount_minor": inv.paid_amount,
            "currency": inv.currency.lower(),
            "billing_length_months": billing_length_months(price.interval or "month", price.interval_count),
            "plan_level": plan_level(price),
            "billing_reason": inv.billing_reason,
            "period_start": iso(main.start),
            "period_end": iso(main.end),
            "livemode": inv.livemode,
        }
    return out


def in_window(ts: int, now: int, before: int, after: int | None) -> bool:
    return ts <= now and ts < before and (after is None or ts >= after)


# -- refunds --------------------------------------------------------------------------------------
def refund_invoice(account: Account, refund: Refund) -> Invoice | None:
    """The invoice a refund counts against: the invoice its charge paid; when one PaymentIntent paid
    several invoices, the one with the largest amount paid (ties: the earliest created, then the smallest
    id); None for a standalone charge (no invoice)."""
    inv = refund.invoice
    if inv is None or inv.pi_id is None:
        return inv
    paid = [i for i in account.invoices if i.pi_id == inv.pi_id and i.paid_at is not None]
    return min(paid, key=lambda i: (-i.paid_amount, i.created, i.id)) if paid else inv


def expected_refunds(account: Account, before: int, after: int | None = None) -> dict[str, dict[str, Any]]:
    """refund_id -> expected refund record.

    Refunds with ``status == "succeeded"``, ``after <= created < before`` and ``created <= clock``, whose
    charge paid a live invoice with a subscription parent (the Refund has no ``livemode``: it comes from
    the invoice/charge; the invoice is :func:`refund_invoice`'s; a refund of a charge of no invoice is no
    record). Fields: ``refund_id``, ``invoice_id``, ``subscription_id``, ``customer_id``,
    ``customer_email`` (the invoice rule of SPEC §2: invoice.customer_email else the customer's email,
    trimmed), ``refunded_at`` (ISO-8601 UTC of the refund's ``created``), ``amount`` (positive Decimal,
    major units), ``currency`` (lower-case), ``reason`` (Stripe's ``reason``, may be None).
    """
    now = account.now
    out: dict[str, dict[str, Any]] = {}
    for refund in account.refunds:
        inv = refund_invoice(account, refund)
        if refund.status != "succeeded" or inv is None or inv.sub is None or not inv.livemode:
            continue
        if not in_window(refund.created, now, before, after):
            continue
        out[refund.id] = {
            "refund_id": refund.id,
            "invoice_id": inv.id,
            "subscription_id": inv.sub.id,
            "customer_id": inv.customer.id,
            "customer_email": email_for(inv, now),
            "refunded_at": iso(refund.created),
            "amount": to_major(refund.amount, inv.currency),
            "currency": inv.currency,
            "reason": refund.reason,
        }
    return out
