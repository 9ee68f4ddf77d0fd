"""Subscription lifecycle: upgrades/downgrades and cancellations. Pure functions, no I/O (refunds:
``refunds.py``).

- **MRR** of a subscription snapshot: Σ over items of the item's amount per period (``pricing.py``: per
  unit with fractions of a minor unit, tiered graduated or volume, quantities) in major units divided by
  the price's billing length in months (the 4-place figure of SPEC §2), quantized to 4 places. A metered
  item has no fixed amount: it counts with its last usage line, the newest non-proration line of its
  price on the subscription's invoices created up to the change (``metered`` amounts, found by the
  caller). An item whose amount is still unknown (metered and never billed) makes the change's MRR
  unknown: no record, counted as ``amount_unknown``, never as 0.
- **Change**: a ``customer.subscription.updated`` event whose ``previous_attributes`` carry the old
  ``items`` (current shape) or the old ``plan``/``quantity`` (pre-2025 single-item shape). MRR up is
  ``upgraded``, down ``downgraded``; equal MRR (renewals, equal-MRR swaps, trial end, metadata) is none.
  History older than the event retention is rebuilt from proration lines (``prorations.py``).
- **Cancellation**: its time is when the subscription ended (``ended_at``), not Stripe's ``canceled_at``
  (the request: earlier for a cancellation at period end), see ``canceled_at``.
- **Cancellation reason**: the feedback as a label ("Too expensive"), else Stripe's reason as a label
  ("Cancellation requested"), then `` — comment`` when the customer left one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from tap_stripe_billing import money, pricing
from tap_stripe_billing import records as rec
from tap_stripe_billing.records import PriceInfo

_FOUR = Decimal("0.0001")

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


class LifecycleReason:
    """Why a lifecycle payload gives no record (names appear in the run summary)."""

    NO_ITEM_CHANGE = "no_item_change"
    EQUAL_MRR = "equal_mrr"
    NOT_CANCELED = "not_canceled"
    NOT_SUCCEEDED = "not_succeeded"
    NO_STATUS_CHANGE = "no_status_change"
    UNLINKED = "unlinked"
    NOT_INVOICED = "not_invoiced"  # a refund of a charge that paid no invoice
    AMOUNT_UNKNOWN = "amount_unknown"  # a metered item never billed yet: no MRR to compare
    UNKNOWN_SUBSCRIPTION = "unknown_subscription"


# (subscription item id, price, quantity), in the subscription's item order; the first is the main item.
Item = tuple[str, PriceInfo, int]
PriceOf = Callable[[Mapping[str, Any]], PriceInfo]
PriceLookup = Callable[[str, Mapping[str, Any] | None], PriceInfo | None]


# -- snapshots and MRR ----------------------------------------------------------------------------------
def _price_payload(item: Mapping[str, Any]) -> Mapping[str, Any] | None:
    price = item.get("price")
    if isinstance(price, Mapping):
        return price
    plan = item.get("plan")
    return plan if isinstance(plan, Mapping) else None


def items_of(items: object, price_of: PriceOf) -> list[Item]:
    """A subscription's ``items`` list (or its ``data``) as Items; items without a price are skipped."""
    data = items.get("data") if isinstance(items, Mapping) else items
    out: list[Item] = []
    for item in data if isinstance(data, list) else []:
        payload = _price_payload(item)
        if payload is None:
            continue
        qty = item.get("quantity")
        out.append((str(item.get("id") or ""), price_of(payload), int(qty) if qty is not None else 1))
    return out


def subscription_items(sub: Mapping[str, Any], price_of: PriceOf) -> list[Item]:
    """Current items of a subscription payload; a pre-2025 payload without items falls back to
    its top-level ``plan``/``quantity``."""
    items = items_of(sub.get("items"), price_of)
    if items:
        return items
    plan = sub.get("plan")
    if isinstance(plan, Mapping):
        qty = sub.get("quantity")
        return [("", price_of(plan), int(qty) if qty is not None else 1)]
    return []


def previous_items(
    previous: Mapping[str, Any], sub: Mapping[str, Any], price_of: PriceOf
) -> list[Item] | None:
    """The items before an update, from ``previous_attributes``; None when the items did not change.

    Current shape: ``previous_attributes.items``. Pre-2025 single-item shape: ``plan`` and/or
    ``quantity`` (the rest of the item as it is now).
    """
    if "items" in previous:
        return items_of(previous.get("items"), price_of)
    if "plan" not in previous and "quantity" not in previous:
        return None
    current = subscription_items(sub, price_of)
    if len(current) != 1:
        return None
    si, price, qty = current[0]
    plan = previous.get("plan")
    if isinstance(plan, Mapping):
        price = price_of(plan)
    if previous.get("quantity") is not None:
        qty = int(previous["quantity"])
    return [(si, price, qty)]


Metered = Mapping[str, Decimal]  # price id -> its last usage line amount (minor units)


def item_amount(price: PriceInfo, qty: int, metered: Metered | None = None) -> Decimal | None:
    """An item's amount per period in minor units (``pricing.period_amount``; a metered price: its last
    usage line amount from ``metered``), or None when unknown."""
    amount = pricing.period_amount(price, qty)
    if amount is None and price.usage_type == "metered" and metered is not None:
        return metered.get(price.price_id)
    return amount


def mrr(items: Sequence[Item], currency: str, metered: Metered | None = None) -> Decimal | None:
    """Monthly recurring revenue in major units, 4 places; None when an item's amount is unknown (items
    with no billing interval count 0)."""
    total = Decimal(0)
    for _, price, qty in items:
        length = money.billing_length_months(price.interval, price.interval_count)
        if not length:
            continue
        amount = item_amount(price, qty, metered)
        if amount is None:
            return None
        total += money.minor_to_major(amount, currency) / length
    return total.quantize(_FOUR)


def recurring_amount(items: Sequence[Item], currency: str, metered: Metered | None = None) -> Decimal:
    """Σ of the items' amounts per period in major units: what the subscription bills per period."""
    total = sum((item_amount(price, qty, metered) or Decimal(0) for _, price, qty in items), Decimal(0))
    return money.minor_to_major(total, currency)


def metered_prices(*sides: Sequence[Item]) -> set[str]:
    """The metered prices among these items (their amounts come from usage lines)."""
    return {price.price_id for side in sides for _, price, _ in side if price.usage_type == "metered"}


def last_usage_amounts(
    invoices: Sequence[Mapping[str, Any]], price_ids: set[str], at: int
) -> dict[str, Decimal]:
    """For each metered price, the amount of its newest non-proration line on these invoices (of one
    subscription) created at or before ``at``."""
    found: dict[str, tuple[int, Decimal]] = {}
    for invoice in invoices:
        created = int(invoice.get("created") or 0)
        if created > at:
            continue
        for line in (invoice.get("lines") or {}).get("data") or []:
            parsed = rec.parse_line(line)
            if parsed.is_proration or parsed.price_id not in price_ids:
                continue
            if parsed.price_id not in found or found[parsed.price_id][0] < created:
                found[parsed.price_id] = (created, Decimal(parsed.amount))
    return {price_id: amount for price_id, (_, amount) in found.items()}


def change_record(
    *,
    change_id: str,
    subscription_id: str,
    customer_id: str | None,
    changed_at: int,
    currency: str,
    before: Sequence[Item],
    after: Sequence[Item],
    metered: Metered | None = None,
) -> dict[str, Any] | str:
    """The ``subscription_changed`` record (``customer_email`` left None for the caller), or the reason
    there is none (no items on either side, an amount unknown, or equal MRR)."""
    if not before or not after:
        return LifecycleReason.NO_ITEM_CHANGE
    currency = currency.lower()
    mrr_before, mrr_after = mrr(before, currency, metered), mrr(after, currency, metered)
    if mrr_before is None or mrr_after is None:
        return LifecycleReason.AMOUNT_UNKNOWN
    if mrr_before == mrr_after:
        return LifecycleReason.EQUAL_MRR
    new_main, old_main = after[0][1], before[0][1]
    return {
        "change_id": change_id,
        "subscription_id": subscription_id,
        "customer_id": customer_id,
        "customer_email": None,
        "changed_at": rec.iso_utc(changed_at),
        "direction": "upgraded" if mrr_after > mrr_before else "downgraded",
        "amount": recurring_amount(after, currency, metered),
        "currency": currency,
        "billing_length_months": money.billing_length_months(new_main.interval, new_main.interval_count),
        "plan_level": new_main.plan_level(),
        "previous_plan_level": old_main.plan_level(),
        "mrr_before": mrr_before,
        "mrr_after": mrr_after,
    }


# -- cancellations ----------------------------------------------------------------------------------------
def cancelation_reason(details: Mapping[str, Any] | None) -> str | None:
    """Feedback label, else Stripe's reason label (an unknown reason as is), plus `` — comment``."""
    details = details or {}
    feedback, reason, comment = details.get("feedback"), details.get("reason"), details.get("comment")
    label = FEEDBACK_LABELS.get(feedback or "") or REASON_LABELS.get(reason or "") or (reason or None)
    if isinstance(comment, str) and comment.strip():
        return f"{label} — {comment}" if label else comment
    return label


def canceled_at(sub: Mapping[str, Any]) -> int | None:
    """When a canceled subscription ended: ``ended_at``, else (a payload without it) ``canceled_at``
    (unix seconds). Stripe's ``canceled_at`` is when the cancellation was requested: for a cancellation at
    period end (the Customer Portal's default) that is long before the subscription ends and before its
    ``customer.subscription.deleted`` event, so it is neither the record's time nor its dedupe time."""
    value = sub.get("ended_at") or sub.get("canceled_at")
    return int(value) if value is not None else None


def canceled_record(sub: Mapping[str, Any], email: str | None) -> dict[str, Any]:
    """The ``subscription_canceled`` record of a canceled subscription payload."""
    return {
        "subscription_id": str(sub["id"]),
        "customer_id": rec.customer_id(sub),
        "customer_email": email,
        "canceled_at": rec.iso_utc(canceled_at(sub)),
        "cancelation_reason": cancelation_reason(sub.get("cancellation_details")),
    }
