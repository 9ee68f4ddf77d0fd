"""A generated account: its objects, indexed per kind and mode, and the simulated clock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from .collection import Collection
from .config import AccountConfig
from .model import (
    Charge,
    CreditNote,
    Customer,
    Event,
    Invoice,
    InvoicePayment,
    Price,
    Product,
    Refund,
    Subscription,
)

# Secondary filters the list endpoints support: kind -> parameter -> object -> value
FILTERS: dict[str, dict[str, Callable[[Any], str | None]]] = {
    "invoice": {
        "customer": lambda o: o.customer.id,
        "subscription": lambda o: o.sub.id if o.sub is not None else None,
    },
    "subscription": {"customer": lambda o: o.customer.id},
    "credit_note": {"invoice": lambda o: o.invoice.id, "customer": lambda o: o.invoice.customer.id},
    "invoice_payment": {
        "invoice": lambda o: o.invoice.id,
        "payment_intent": lambda o: o.invoice.pi_id,
        "payment_record": lambda o: None,  # no payment records in a generated account
    },
    "refund": {"charge": lambda o: o.ch_id, "payment_intent": lambda o: o.pi_id},
    "price": {"product": lambda o: o.product.id},
    "customer": {"email": lambda o: o.email},
    "event": {},
    "product": {},
}


class Account:
    """Everything the generator decided, plus the clock the stand-in answers as of."""

    def __init__(
        self,
        cfg: AccountConfig,
        *,
        products: Sequence[Product],
        prices: Sequence[Price],
        customers: Sequence[Customer],
        subscriptions: Sequence[Subscription],
        invoices: Sequence[Invoice],
        refunds: Sequence[Refund],
        credit_notes: Sequence[CreditNote],
        invoice_payments: Sequence[InvoicePayment],
        events: Sequence[Event],
        charges: Sequence[Charge] = (),
    ) -> None:
        self.config = cfg
        self._now = cfg.now
        self._lock = threading.Lock()
        self.products, self.prices, self.customers = list(products), list(prices), list(customers)
        self.subscriptions, self.invoices, self.refunds = list(subscriptions), list(invoices), list(refunds)
        self.credit_notes, self.invoice_payments, self.events = (
            list(credit_notes),
            list(invoice_payments),
            list(events),
        )
        self.by_kind: dict[str, Sequence[Any]] = {
            "product": self.products,
            "price": self.prices,
            "customer": self.customers,
            "subscription": self.subscriptions,
            "invoice": self.invoices,
            "refund": self.refunds,
            "credit_note": self.credit_notes,
            "invoice_payment": self.invoice_payments,
            "event": self.events,
        }
        self.charges = list(charges)  # standalone charges (invoice charges live on their invoices)
        self._ids: dict[str, dict[str, Any]] = {}
        self._collections: dict[tuple[str, bool, str, str], Collection[Any]] = {}

    # -- clock -----------------------------------------------------------------------------------
    @property
    def now(self) -> int:
        return self._now

    def set_now(self, ts: int) -> None:
        with self._lock:
            self._now = int(ts)

    def advance(self, hours: float = 0, minutes: float = 0, seconds: float = 0, days: float = 0) -> int:
        with self._lock:
            self._now += int(days * 86400 + hours * 3600 + minutes * 60 + seconds)
            return self._now

    # -- lookups ---------------------------------------------------------------------------------
    def get(self, kind: str, object_id: str) -> Any | None:
        table = self._ids.get(kind)
        if table is None:
            table = {o.id: o for o in self.by_kind[kind]}
            self._ids[kind] = table
        return table.get(object_id)

    def charge(self, charge_id: str) -> Invoice | Charge | None:
        """The invoice a charge paid, or the standalone charge with that id."""
        table = self._ids.get("charge")
        if table is None:
            table = {inv.ch_id: inv for inv in self.invoices if inv.ch_id is not None}
            table.update({ch.id: ch for ch in self.charges})
            self._ids["charge"] = table
        found: Invoice | Charge | None = table.get(charge_id)
        return found

    def collection(self, kind: str, livemode: bool, field: str = "", value: str = "") -> Collection[Any]:
        """The objects of ``kind`` in ``livemode`` (optionally with ``field == value``), sorted by created."""
        key = (kind, livemode, field, value)
        coll = self._collections.get(key)
        if coll is None:
            if field:
                getter = FILTERS[kind][field]
                base = self.collection(kind, livemode).objs
                objs = [o for o in base if getter(o) == value]
            else:
                objs = [o for o in self.by_kind[kind] if o.livemode == livemode]
            coll = Collection(objs, lambda o: o.created, lambda o: o.id)
            with self._lock:
                self._collections[key] = coll
        return coll

    def invoices_paid(self, livemode: bool | None = None) -> list[Invoice]:
        return [
            inv
            for inv in self.invoices
            if inv.paid_at is not None
            and inv.paid_at <= self._now
            and (livemode is None or inv.livemode == livemode)
        ]
