"""Seeded, deterministic generation of a whole Stripe billing timeline (see AccountConfig).

The generator is one class in layers, one file each: ``generator_state`` (state and building blocks),
``generator_payments`` (invoice lifecycle), ``generator_subscriptions`` (subscriptions), and here the
top-level loop and one-off invoices.
"""

from __future__ import annotations

from . import generator_billing_kinds as kinds
from .account import Account
from .config import DAY, AccountConfig
from .generator_subscriptions import GeneratorSubscriptions


def generate_account(cfg: AccountConfig) -> Account:
    """The account for ``cfg``: same config, same account, payload for payload."""
    return _Generator(cfg).run()


class _Generator(GeneratorSubscriptions):
    def run(self) -> Account:
        rng, cfg = self.rng, self.cfg
        while self.live_count < cfg.invoices:
            livemode = rng.random() >= cfg.test_mode_share
            if self.one_off_count < cfg.one_off_share * len(self.invoices):
                self.one_off_count += 1
                self.one_off(livemode)
            else:
                self.subscription(livemode)
        return Account(
            cfg,
            products=[p for c in self.catalogs.values() for p in c.products],
            prices=[p for c in self.catalogs.values() for p in c.prices],
            customers=[c for cs in self.customers.values() for c in cs],
            subscriptions=self.subscriptions,
            invoices=self.invoices,
            refunds=self.refunds,
            credit_notes=self.credit_notes,
            invoice_payments=self.payments,
            events=self.events,
            charges=self.charges,
        )

    # -- one-off invoices ------------------------------------------------------------------------
    def one_off(self, livemode: bool) -> None:
        if kinds.standalone_charge(self, livemode):
            return
        rng = self.rng
        created = rng.randint(self.t0, self.t_end)
        cust = self.customer(livemode, created)
        prices = self.catalogs[livemode].one_offs[cust.currency]
        lines = []
        for price in rng.sample(prices, rng.randint(1, 3)):
            qty = rng.randint(1, 2)
            lines.append(
                self.line(
                    price, qty, price.unit_amount * qty, created, created, False, None, price.product.name
                )
            )
        inv = self.invoice(cust, None, created, "manual", lines)
        roll = rng.random()
        if roll >= 0.95:
            return  # stays a draft
        finalized_at = created + rng.randint(60, 3600)
        if roll < 0.84:
            self.collect(inv, finalized_at, finalized_at + 30 * DAY)
            return
        self.finalize(inv, finalized_at)
        if roll < 0.88:
            inv.voided_at = finalized_at + rng.randint(1, 10) * DAY
            self.emit("invoice.voided", inv.voided_at, inv)
        elif roll < 0.91:
            self.fail(inv, finalized_at + 5)
            inv.uncollectible_at = finalized_at + 30 * DAY
            self.emit("invoice.marked_uncollectible", inv.uncollectible_at, inv)
