"""Subscription changes older than the event retention, rebuilt from proration lines. Pure functions.

Proration lines sit on the ``subscription_update`` invoice of an immediate change, and on the next
ordinary invoice of a deferred one (Stripe's default ``create_prorations``). The lines of one change share
their period start, the moment of the change (``invoiced_changes``); its credit lines give the old price
and quantity of the items it changed, its charge lines the new ones. A subscription's changes are walked
newest first from its current items, and each change's "after" is taken from its own charge lines
(``redo_change``), not from the walk: a later change that left no proration lines
(``proration_behavior=none``, or deferred and not invoiced yet) cannot erase or disguise an earlier
invoiced one. Such a change leaves no trace once its event is past the retention: it gives no record.
Stripe writes no proration lines for metered items: a change to or from a metered price cannot be rebuilt
(a metered item left by a change reads as an added item), which is why only the events see those.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tap_stripe_billing import records as rec
from tap_stripe_billing.lifecycle import Item, PriceLookup
from tap_stripe_billing.records import PriceInfo


@dataclass(frozen=True)
class ChangeLine:
    """A subscription-item line of an invoice (its proration lines record changes)."""

    subscription_item: str
    price_id: str | None
    embedded_price: Mapping[str, Any] | None
    quantity: int
    amount: int
    proration: bool = False
    period_start: int | None = None


def change_lines(lines: Sequence[Mapping[str, Any]]) -> list[ChangeLine]:
    """The subscription-item lines of an invoice, either shape."""
    out: list[ChangeLine] = []
    for line in lines:
        parent = line.get("parent")
        if isinstance(parent, Mapping) and parent.get("type"):
            details = parent.get("subscription_item_details") or {}
            si = details.get("subscription_item")
        else:
            si = line.get("subscription_item")
        if not si:
            continue
        parsed = rec.parse_line(line)
        qty = line.get("quantity")
        out.append(
            ChangeLine(
                subscription_item=str(si),
                price_id=parsed.price_id,
                embedded_price=parsed.embedded_price,
                quantity=int(qty) if qty is not None else 1,
                amount=parsed.amount,
                proration=parsed.is_proration,
                period_start=int(parsed.period_start) if parsed.period_start is not None else None,
            )
        )
    return out


def invoiced_changes(lines: Sequence[ChangeLine]) -> list[tuple[int, list[ChangeLine]]]:
    """The changes an invoice's lines record, as (moment of the change, its lines), oldest first: the
    subscription-item lines grouped by period start, where a group holds at least one proration line (an
    immediate change that resets the billing cycle charges the new period with a regular line of the same
    start). A renewal's own lines (no proration) are no change."""
    groups: dict[int, list[ChangeLine]] = {}
    for line in lines:
        if line.period_start is not None:
            groups.setdefault(line.period_start, []).append(line)
    return [(at, group) for at, group in sorted(groups.items()) if any(ln.proration for ln in group)]


def redo_change(state: Sequence[Item], lines: Sequence[ChangeLine], lookup: PriceLookup) -> list[Item]:
    """The items right after a change, from its charge lines (positive): each charged item at the line's
    price and quantity, the other items as in ``state`` (the items before the next recorded change)."""
    charged: dict[str, Item] = {}
    for line in lines:
        if line.amount > 0 and line.subscription_item not in charged and line.price_id:
            info = lookup(line.price_id, line.embedded_price)
            if info is not None:
                charged[line.subscription_item] = (line.subscription_item, info, line.quantity)
    after = [charged.pop(si, (si, price, qty)) for si, price, qty in state]
    return after + list(charged.values())


def undo_change(after: Sequence[Item], lines: Sequence[ChangeLine], lookup: PriceLookup) -> list[Item]:
    """The items before the change an invoice's lines describe, given the items right after it.

    A credit line (negative) gives an item's old price and quantity; an item with only a charge line
    (positive) was added by the change; a credited item no longer present was removed by it.
    """
    credits: dict[str, ChangeLine] = {}
    charges: set[str] = set()
    for line in lines:
        if line.amount < 0:
            credits.setdefault(line.subscription_item, line)
        elif line.amount > 0:
            charges.add(line.subscription_item)

    def old(line: ChangeLine, fallback: PriceInfo | None) -> Item | None:
        info = lookup(line.price_id, line.embedded_price) if line.price_id else None
        info = info or fallback
        return (line.subscription_item, info, line.quantity) if info is not None else None

    before: list[Item] = []
    present = set()
    for si, price, qty in after:
        present.add(si)
        if si in credits:
            item = old(credits[si], price)
            if item is not None:
                before.append(item)
        elif si not in charges:
            before.append((si, price, qty))
    for si, line in credits.items():
        if si not in present:
            item = old(line, None)
            if item is not None:
                before.append(item)
    return before
