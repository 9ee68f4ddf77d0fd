"""The generator's subscriptions: sign-up, billing periods, mid-period changes and cancellations."""

from __future__ import annotations

from typing import Any

from . import generator_billing_kinds as kinds
from .catalog import INTERVALS, TIER_WEIGHTS
from .config import DAY
from .generator_payments import GeneratorPayments
from .model import RENEWAL, Change, Invoice, Item, Subscription
from .money import whole
from .price_kinds import charged_or_zero
from .timeline import period_adder

FEEDBACK = (
    "too_expensive",
    "missing_features",
    "switched_service",
    "unused",
    "customer_service",
    "too_complex",
    "low_quality",
    "other",
    None,
    None,
)
COMMENTS = ("We moved to another tool.", "Budget cuts this quarter", "Not using it enough")
REFUND_REASONS = ("requested_by_customer",) * 5 + ("duplicate", "fraudulent", None, None)
_INTERVAL_KEYS = [(i, c) for i, c, _, _ in INTERVALS]
_INTERVAL_WEIGHTS = [w for _, _, _, w in INTERVALS]


class GeneratorSubscriptions(GeneratorPayments):
    """A subscription's life, period by period, until it ends or the account's horizon."""

    # -- subscriptions ---------------------------------------------------------------------------
    def subscription(self, livemode: bool) -> None:
        rng, cfg = self.rng, self.cfg
        cat = self.catalogs[livemode]
        start = rng.randint(self.t0, self.t_end)
        cust = self.customer(livemode, start)
        interval, count = rng.choices(_INTERVAL_KEYS, _INTERVAL_WEIGHTS)[0]
        key = (cust.currency, interval, count)
        tier = rng.choices((0, 1, 2), TIER_WEIGHTS)[0]
        main = cat.mains[key][tier]
        if key in cat.legacy and start < cfg.now - 300 * DAY and rng.random() < 0.3:
            main = cat.legacy[key][tier]
        elif key in cat.archived and start < cfg.now - 200 * DAY and rng.random() < 0.4:
            main = cat.archived[key][tier]
        qty = 1 if rng.random() < 0.8 else rng.randint(2, 5)
        main, qty = kinds.special_price(self, cat, key, main, qty)
        sub = Subscription(self.ids.new("sub"), cust, start, livemode, cust.currency)
        self.subscriptions.append(sub)
        items: list[Item] = [(self.ids.new("si"), main, qty)]
        roll = rng.random()
        many = cfg.many_items_share
        n_addons = rng.randint(11, 14) if roll < many else rng.randint(1, 3) if roll < 0.25 else 0
        if main.scheme == "metered":
            n_addons = 0  # a usage-billed subscription of one item (see price_kinds.py)
        items += [(self.ids.new("si"), p, 1) for p in rng.sample(cat.addons[key], n_addons)]
        metadata = {"signup_channel": rng.choice(("web", "sales", "partner"))} if rng.random() < 0.3 else {}
        sub.add_version(start, tuple(items), metadata)
        self.emit("customer.subscription.created", start, sub)

        anchor = start
        reason = "subscription_create"
        if rng.random() < cfg.trial_share:
            anchor = sub.trial_end = start + 14 * DAY
            lines = [
                self.line(p, q, 0, start, anchor, False, si, f"Trial period for {p.product.name}")
                for si, p, q in items
            ]
            inv = self.invoice(cust, sub, start, "subscription_create", lines)
            self.collect(inv, start + 1, start + 1)
            sub.boundaries.append(start)
            reason = "subscription_cycle"
        self.run_periods(sub, anchor, interval, count, reason)

    def bill(self, sub: Subscription, at: int, end: int, reason: str, credit: int) -> tuple[Invoice, int]:
        items = sub.versions[-1][0]
        lines = []
        for si, p, q in items:
            amount, billed_qty = kinds.period_line(self, p, q)
            lines.append(
                self.line(p, billed_qty, amount, at, end, False, si, f"{billed_qty} x {p.product.name}")
            )
        inv = self.invoice(sub.customer, sub, at, reason, lines)
        inv.starting_balance = credit
        return inv, min(0, inv.total + credit)

    def run_periods(self, sub: Subscription, anchor: int, interval: str, count: int, reason: str) -> None:
        rng = self.rng
        adder = period_adder(anchor, interval, count)
        k, p_start, credit, need_bill = 0, anchor, 0, True
        months = {"month": 1, "year": 12, "week": 0.23, "day": 0.033}[interval] * count
        cancel_p = 1 - 0.97**months
        change_p = min(0.5, self.cfg.change_share * months**0.5)
        while p_start <= self.t_end:
            p_end = adder(k + 1)
            if not sub.boundaries or sub.boundaries[-1] != p_start:
                sub.boundaries.append(p_start)
            if need_bill and reason == "subscription_cycle" and self.cfg.renewal_events:
                # Stripe's renewal update: the period moved (items' periods, or the subscription's).
                previous = {"items": sub.versions[-1][0], RENEWAL: sub.boundaries[-2:-1] or [p_start]}
                self.emit("customer.subscription.updated", p_start, sub, previous, self.renewal_rng)
            if need_bill:
                inv, credit = self.bill(sub, p_start, p_end, reason, credit)
                fin = p_start + (1 if reason == "subscription_create" else 3600)
                if not self.collect(inv, fin, p_end - 3600):
                    assert inv.uncollectible_at is not None
                    self.cancel(sub, inv.uncollectible_at, "payment_failed")
                    sub.boundaries.append(p_end)
                    return
            reason, need_bill = "subscription_cycle", True
            cancel_at = rng.randint(p_start + 3600, p_end - 3600) if rng.random() < cancel_p else None
            change_at = rng.randint(p_start + 7200, p_end - 7200) if rng.random() < change_p else None
            if (
                change_at is not None
                and change_at <= self.t_end
                and (cancel_at is None or change_at < cancel_at)
            ):
                swap = self.change(sub, change_at, p_start, p_end, interval, count, credit)
                if swap is not None:
                    (interval, count), credit = swap
                    adder, k, p_start, need_bill = (
                        period_adder(change_at, interval, count),
                        0,
                        change_at,
                        False,
                    )
                    continue
            if cancel_at is not None and cancel_at <= self.t_end:
                share = self.cfg.period_end_cancel_share
                at_end = p_end if share and rng.random() < share else None
                self.cancel(sub, cancel_at, "cancellation_requested", at_end)
                sub.boundaries.append(p_end)
                return
            k, p_start = k + 1, p_end
        sub.boundaries.append(p_start)

    def cancel(self, sub: Subscription, at: int, reason: str, period_end: int | None = None) -> None:
        """Cancel now, or (``period_end``) at the end of the period: requested at ``at`` (Stripe's
        ``canceled_at``), ended at ``period_end`` (``ended_at``, the ``deleted`` event)."""
        rng = self.rng
        sub.canceled_at, sub.cancel_reason = at, reason
        sub.ended_at = at if period_end is None else period_end
        if reason == "cancellation_requested":
            sub.cancel_feedback = rng.choice(FEEDBACK)
            sub.cancel_comment = rng.choice(COMMENTS) if rng.random() < 0.3 else None
        if period_end is not None:
            sub.cancel_at_period_end = True
            previous = {
                "cancel_at": None,
                "cancel_at_period_end": False,
                "canceled_at": None,
                "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            }
            self.emit("customer.subscription.updated", at, sub, previous)
        self.emit("customer.subscription.deleted", sub.ended_at, sub)

    def change(  # noqa: PLR0917
        self, sub: Subscription, at: int, p_start: int, p_end: int, interval: str, count: int, credit: int
    ) -> tuple[tuple[str, int], int] | None:
        """A mid-period update. Returns ((interval, count), credit) when the billing cycle was reset."""
        rng = self.rng
        cat = self.catalogs[sub.livemode]
        old_items, metadata = sub.versions[-1]
        si, old_price, old_qty = old_items[0]
        key = (sub.currency, interval, count)
        kind = rng.choices(
            ("upgrade", "downgrade", "more", "fewer", "swap", "metadata"), (35, 20, 15, 10, 10, 10)
        )[0]
        new_price, new_qty = old_price, old_qty
        if kind == "upgrade":
            if old_price.tier < 2:
                new_price = kinds.changed_price(self, cat, key, old_price.tier + 1, len(old_items))
            else:
                kind, new_qty = "more", old_qty + rng.randint(1, 3)
        elif kind == "downgrade":
            if old_price.tier > 0:
                new_price = kinds.changed_price(self, cat, key, old_price.tier - 1, len(old_items))
            else:
                kind = "metadata"
        elif kind == "more":
            new_qty = old_qty + rng.randint(1, 3)
        elif kind == "fewer":
            if old_qty > 1:
                new_qty = old_qty - 1
            else:
                kind = "metadata"
        if kind in ("more", "fewer") and old_price.scheme == "metered":
            kind = "metadata"  # a metered item has no quantity
        if kind == "swap":
            other = {("month", 1): ("month", 3), ("month", 3): ("month", 1)}.get((interval, count))
            if other is None or len(old_items) > 1:
                kind = "metadata"
            else:
                new_price = cat.mains[(sub.currency, other[0], other[1])][old_price.tier]
        if kind == "metadata":
            new_meta = {**metadata, "account_manager": rng.choice(("ana", "bo", "chen", "dee"))}
            sub.add_version(at, old_items, new_meta)
            change = Change(at, kind, old_items, old_items)
            change.event_id = self.emit("customer.subscription.updated", at, sub, {"metadata": metadata})
            sub.changes.append(change)
            return None
        new_items = ((si, new_price, new_qty), *old_items[1:])
        frac = (p_end - at) / (p_end - p_start)
        day = f"{at}"
        credit_line = self.line(
            old_price,
            old_qty,
            -whole(round(charged_or_zero(old_price, old_qty) * frac), sub.currency),
            at,
            p_end,
            True,
            si,
            f"Unused time on {old_qty} x {old_price.product.name} after {day}",
        )
        if kind == "swap":
            new_interval = (new_price.interval or "month", new_price.interval_count)
            new_end = period_adder(at, *new_interval)(1)
            charge_line = self.line(
                new_price,
                new_qty,
                charged_or_zero(new_price, new_qty),
                at,
                new_end,
                False,
                si,
                f"{new_qty} x {new_price.product.name}",
            )
        else:
            charge_line = self.line(
                new_price,
                new_qty,
                whole(round(charged_or_zero(new_price, new_qty) * frac), sub.currency),
                at,
                p_end,
                True,
                si,
                f"Remaining time on {new_qty} x {new_price.product.name} after {day}",
            )
        sub.add_version(at, new_items, metadata)
        change = Change(at, kind, old_items, new_items)
        previous: dict[str, Any] = {"items": old_items}
        if len(old_items) == 1:
            previous["plan"] = old_price
            if old_qty != new_qty:
                previous["quantity"] = old_qty
        change.event_id = self.emit("customer.subscription.updated", at, sub, previous)
        # Stripe writes no proration lines for a metered item.
        lines = [ln for ln in (credit_line, charge_line) if ln.price.scheme != "metered"]
        if not lines:
            change.behavior = "none"
        if not lines or (kind != "swap" and kinds.not_invoiced_now(self, sub, change, lines)):
            sub.changes.append(change)
            return None
        inv = self.invoice(sub.customer, sub, at, "subscription_update", lines)
        inv.starting_balance = credit
        credit = min(0, inv.total + credit)
        self.collect(inv, at + 1, p_end)
        change.invoice = inv
        sub.changes.append(change)
        if kind == "swap":
            return new_interval, credit
        return None
