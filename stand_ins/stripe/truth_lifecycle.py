"""Ground truth of the subscription lifecycle (E): mid-period changes with their MRR, and cancellations,
computed from what the generator decided (billed invoices and refunds: ``truth``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .account import Account
from .money import billing_length_months, iso, to_major
from .price_kinds import period_amount
from .truth import in_window, plan_level

_FOUR = Decimal("0.0001")
EVENT_RETENTION = 30 * 86_400
FEEDBACK_LABELS = {
    "too_expensive": "Too expensive",
    "missing_features": "Missing features",
    "switched_service": "Switched service",
    "unused": "Unused",
    "customer_service": "Customer service",
    "too_complex": "Too complex",
    "low_quality": "Low quality",
    "other": "Other",
}
REASON_LABELS = {
    "cancellation_requested": "Cancellation requested",
    "payment_failed": "Payment failed",
    "payment_disputed": "Payment disputed",
}


def _customer_email(customer: Any, now: int) -> str | None:
    raw = customer.email_at(now)
    return (raw.strip() or None) if raw is not None else None


def item_amounts(items: tuple[Any, ...], usage: dict[str, Decimal] | None = None) -> list[Decimal] | None:
    """Each item's amount per period in minor units (``price_kinds.period_amount``; metered: ``usage``),
    or None when a metered item has no usage yet."""
    out = []
    for _, price, qty in items:
        amount = period_amount(price, qty)
        if amount is None:
            amount = (usage or {}).get(price.id)
        if amount is None:
            return None
        out.append(amount)
    return out


def mrr(items: tuple[Any, ...], usage: dict[str, Decimal] | None = None) -> Decimal | None:
    """Monthly recurring revenue of subscription items, in major units, quantized to 4 places.

    Sum over items of ``to_major(amount per period) / billing_length_months(price)``, where the amount
    per period is the price model's (unit x quantity, decimal unit x quantity, graduated or volume tiers;
    a metered item: its last usage line, ``usage``) and billing_length_months the 4-place rounded figure of
    SPEC §2. None when a metered item has never been billed.
    """
    amounts = item_amounts(items, usage)
    if amounts is None:
        return None
    total = Decimal(0)
    for (_, price, _), amount in zip(items, amounts, strict=True):
        length = billing_length_months(price.interval or "month", price.interval_count)
        total += to_major(amount, price.currency) / length
    return total.quantize(_FOUR)


def expected_changes(
    account: Account,
    before: int,
    after: int | None = None,
    *,
    include_test: bool = False,
    retained_from: int | None = None,
) -> dict[str, dict[str, Any]]:
    """change_id -> expected subscription upgrade/downgrade record.

    One record per mid-period change of a subscription's items (price or quantity) with
    ``after <= changed_at < before`` and ``changed_at <= clock``, live only unless ``include_test``, where
    ``mrr_after != mrr_before`` (see :func:`mrr`). ``direction`` is "upgraded" when MRR went up,
    "downgraded" when it went down; equal-MRR swaps, renewals and metadata-only updates are not changes.

    Fields: ``change_id`` = the ``customer.subscription.updated`` event id when that event is still
    retained (created >= ``retained_from``, by default clock - 30 days: pass the moment the tap that read
    the history switched from invoices to events, since which id a change got depends on when it was
    read), else the id of the invoice that carries the change's proration lines (its own
    ``subscription_update`` invoice when prorated at once, ``always_invoice``; the subscription's next
    invoice when deferred, ``create_prorations``), as ``invoice id@changed_at`` when that invoice carries
    several changes; a change past the events with no such invoice as of the clock
    (``proration_behavior=none``, or deferred and not invoiced yet) has no record;
    ``subscription_id``; ``customer_id``; ``customer_email`` (the customer's email as of the clock, trimmed,
    None if none); ``changed_at`` (ISO-8601 UTC, the event's ``created`` = the invoice's ``created``);
    ``direction``; ``amount`` = Σ of the new items' amounts per period (see :func:`mrr`), major units (the
    new recurring amount per billing period); a change to or from a metered price that was never billed
    before the change has no record, nor one past the events (Stripe writes no proration lines for metered
    items); ``currency``; ``billing_length_months`` and ``plan_level`` of the new
    main (first) item's price; ``previous_plan_level`` of the old main item's price (plan_level rule of
    SPEC §2); ``mrr_before``/``mrr_after`` (Decimals, 4 places).
    """
    now = account.now
    floor = now - EVENT_RETENTION if retained_from is None else retained_from
    out: dict[str, dict[str, Any]] = {}
    for sub in account.subscriptions:
        if not sub.livemode and not include_test:
            continue
        for change in sub.changes:
            if change.kind == "metadata" or not in_window(change.at, now, before, after):
                continue
            usage = _usage(account, sub, change)
            before_mrr, after_mrr = mrr(change.old_items, usage), mrr(change.new_items, usage)
            if before_mrr is None or after_mrr is None or before_mrr == after_mrr:
                continue  # a metered item never billed has no MRR to compare
            retained = change.event_id is not None and change.at >= floor
            if retained and change.event_id:
                change_id = change.event_id
            elif any(p.scheme == "metered" for _, p, _ in change.old_items + change.new_items):
                continue  # no proration lines for a metered item: past the events, nothing to rebuild from
            else:
                inv = change.invoice
                if inv is None or inv.created > now:
                    continue  # no proration lines (yet): past the events, it left no trace
                on_invoice = sum(1 for other in sub.changes if other.invoice is inv)
                change_id = inv.id if on_invoice == 1 else f"{inv.id}@{change.at}"
            new_main, old_main = change.new_items[0][1], change.old_items[0][1]
            out[change_id] = {
                "change_id": change_id,
                "subscription_id": sub.id,
                "customer_id": sub.customer.id,
                "customer_email": _customer_email(sub.customer, now),
                "changed_at": iso(change.at),
                "direction": "upgraded" if after_mrr > before_mrr else "downgraded",
                "amount": to_major(sum(item_amounts(change.new_items, usage) or []), sub.currency),
                "currency": sub.currency,
                "billing_length_months": billing_length_months(
                    new_main.interval or "month", new_main.interval_count
                ),
                "plan_level": plan_level(new_main),
                "previous_plan_level": plan_level(old_main),
                "mrr_before": before_mrr,
                "mrr_after": after_mrr,
            }
    return out


def _usage(account: Account, sub: Any, change: Any) -> dict[str, Decimal]:
    """Last usage line amounts of the metered prices of a change (see :func:`mrr`)."""
    out: dict[str, Decimal] = {}
    metered = {p.id: p for _, p, _ in change.old_items + change.new_items if p.scheme == "metered"}
    if not metered:
        return out
    invoices = [inv for inv in account.invoices if inv.sub is sub and inv.created <= change.at]
    for price_id, price in metered.items():
        best: tuple[int, int] | None = None
        for inv in invoices:
            for ln in inv.lines:
                if ln.price is price and not ln.proration and (best is None or inv.created > best[0]):
                    best = (inv.created, ln.amount)
        if best is not None:
            out[price_id] = Decimal(best[1])
    return out


def cancelation_reason(feedback: str | None, reason: str | None, comment: str | None) -> str | None:
    """Feedback label ("Too expensive"), else Stripe's reason label ("Cancellation requested"), plus
    " — comment" when a comment exists; None when there is neither feedback, reason nor comment."""
    label = FEEDBACK_LABELS.get(feedback or "") or REASON_LABELS.get(reason or "") or (reason or None)
    if comment:
        return f"{label} — {comment}" if label else comment
    return label


def expected_cancellations(
    account: Account, before: int, after: int | None = None, *, include_test: bool = False
) -> dict[str, dict[str, Any]]:
    """subscription_id -> expected cancellation record.

    Subscriptions with ``status == "canceled"`` as of the clock and ``after <= ended < before``, where
    ended is when the subscription ended (Stripe's ``ended_at``; for a cancellation at period end Stripe's
    ``canceled_at`` is the earlier moment it was requested), live only unless ``include_test``. Fields:
    ``subscription_id``, ``customer_id``, ``customer_email`` (customer's email as of the clock, trimmed),
    ``canceled_at`` (ISO-8601 UTC of when it ended), ``cancelation_reason``
    (see :func:`cancelation_reason`, from ``cancellation_details.{feedback, reason, comment}``).
    """
    now = account.now
    out: dict[str, dict[str, Any]] = {}
    for sub in account.subscriptions:
        if sub.ended_at is None or not in_window(sub.ended_at, now, before, after):
            continue
        if not sub.livemode and not include_test:
            continue
        out[sub.id] = {
            "subscription_id": sub.id,
            "customer_id": sub.customer.id,
            "customer_email": _customer_email(sub.customer, now),
            "canceled_at": iso(sub.ended_at),
            "cancelation_reason": cancelation_reason(
                sub.cancel_feedback, sub.cancel_reason, sub.cancel_comment
            ),
        }
    return out
