"""The generator's state and building blocks: customers, events, invoice lines and invoices."""

from __future__ import annotations

import random
from typing import Any

from . import generator_billing_kinds as kinds
from .catalog import CURRENCIES, CURRENCY_WEIGHTS, EXTRA_WEIGHT, Catalog, build_catalog
from .config import DAY, AccountConfig
from .ids import IdFactory
from .model import (
    Charge,
    CreditNote,
    Customer,
    Event,
    Invoice,
    InvoicePayment,
    Line,
    Price,
    Refund,
    Subscription,
)
from .people import person


class GeneratorState:
    """What a generated account is made of so far, and the small steps that add to it."""

    def __init__(self, cfg: AccountConfig) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.renewal_rng = random.Random(cfg.seed + 1)  # renewal events only (config.renewal_events)
        self.ids = IdFactory(self.rng)
        self.t0 = cfg.now - cfg.history_days * DAY
        self.t_end = cfg.now + cfg.horizon_days * DAY
        self.event_from = cfg.now - cfg.event_history_days * DAY
        self.currencies = CURRENCIES + cfg.extra_currencies
        self.currency_weights = CURRENCY_WEIGHTS + (EXTRA_WEIGHT,) * len(cfg.extra_currencies)
        self.catalogs: dict[bool, Catalog] = {
            mode: build_catalog(self.rng, self.ids, mode, self.t0, self.currencies, cfg.price_kinds_share > 0)
            for mode in (True, False)
        }
        self.customers: dict[bool, list[Customer]] = {True: [], False: []}
        self.subscriptions: list[Subscription] = []
        self.invoices: list[Invoice] = []
        self.refunds: list[Refund] = []
        self.credit_notes: list[CreditNote] = []
        self.payments: list[InvoicePayment] = []
        self.charges: list[Charge] = []
        self.events: list[Event] = []
        self.live_count = 0
        self.one_off_count = 0

    # -- building blocks -------------------------------------------------------------------------
    def emit(
        self,
        type_: str,
        created: int,
        obj: Any,
        previous: dict[str, Any] | None = None,
        rng: random.Random | None = None,
    ) -> str | None:
        if created < self.event_from or created > self.t_end:
            return None
        rng, cfg = rng or self.rng, self.cfg
        visible_at = created + rng.randint(60, 600) if rng.random() < cfg.late_event_share else created
        legacy = rng.random() < cfg.legacy_event_share
        event = Event(self.ids.new("evt"), type_, created, visible_at, obj, legacy, previous)
        self.events.append(event)
        return event.id

    def customer(self, livemode: bool, before: int, currency: str | None = None) -> Customer:
        pool = self.customers[livemode]
        rng = self.rng
        if pool and rng.random() < 0.1:
            candidate = pool[rng.randrange(len(pool))]
            if candidate.created <= before and (currency is None or candidate.currency == currency):
                return candidate
        created = before - rng.randint(0, 3 * DAY)
        name, email, email_set_at = person(
            rng, len(pool) + 1, created, livemode, self.cfg.no_email_share, self.cfg.late_email_share
        )
        cur = currency or rng.choices(self.currencies, self.currency_weights)[0]
        c = Customer(self.ids.new("cus"), name, email, email_set_at, created, livemode, cur)
        pool.append(c)
        return c

    def line(  # noqa: PLR0917
        self,
        price: Price,
        qty: int,
        amount: int,
        start: int,
        end: int,
        proration: bool,
        si: str | None,
        text: str,
    ) -> Line:
        return Line(self.ids.new("il"), price, qty, amount, start, end, proration, si, text)

    def invoice(
        self, customer: Customer, sub: Subscription | None, created: int, reason: str, lines: list[Line]
    ) -> Invoice:
        pending = kinds.take_pending(sub)
        inv = Invoice(
            self.ids.new("in"), customer, sub, created, reason, lines + [ln for _, g in pending for ln in g]
        )
        for change, _ in pending:
            change.invoice = inv
        inv.number = f"{customer.id[-8:].upper()}-{len(self.invoices) + 1:05d}"
        if sub is not None:
            inv.sub_metadata = sub.versions[-1][1]
            regular = [ln for ln in inv.lines if not ln.proration]
            pool = regular or [ln for ln in inv.lines if ln.amount > 0] or inv.lines
            inv.main_line = max(pool, key=lambda ln: ln.amount)
        self.invoices.append(inv)
        if customer.livemode and created <= self.cfg.now:
            self.live_count += 1
        self.emit("invoice.created", created, inv)
        return inv
