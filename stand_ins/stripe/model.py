"""Compact internal records the generator decides; JSON payloads are rendered from them on demand.

Everything time-dependent (an invoice's status, a subscription's items) is stored as a timeline, and
read "as of" a clock value by the helpers at the bottom.
"""

from __future__ import annotations

from bisect import bisect_right

from .model_billing import Charge, CreditNote, Event, Invoice, InvoicePayment, Line, Refund

__all__ = [
    "RENEWAL",
    "Change",
    "Charge",
    "CreditNote",
    "Customer",
    "Event",
    "Invoice",
    "InvoicePayment",
    "Item",
    "Line",
    "Price",
    "Product",
    "Refund",
    "Subscription",
]

RENEWAL = "_renewal"  # marks a renewal's previous_attributes (render.py shapes them per API version)


class Product:
    __slots__ = ("created", "description", "id", "livemode", "name")

    def __init__(self, id: str, name: str, description: str, created: int, livemode: bool) -> None:
        self.id, self.name, self.description, self.created, self.livemode = (
            id,
            name,
            description,
            created,
            livemode,
        )


class Price:
    __slots__ = (
        "active",
        "created",
        "currency",
        "id",
        "interval",
        "interval_count",
        "kind",
        "legacy_plan",
        "livemode",
        "lookup_key",
        "nickname",
        "product",
        "scheme",
        "tier",
        "tiers",
        "unit_amount",
        "unit_amount_decimal",
    )

    def __init__(  # noqa: PLR0917
        self,
        id: str,
        product: Product,
        currency: str,
        unit_amount: int,
        interval: str | None,
        interval_count: int,
        *,
        nickname: str | None,
        lookup_key: str | None,
        active: bool,
        created: int,
        livemode: bool,
        legacy_plan: bool = False,
        kind: str = "main",
        tier: int = 0,
    ) -> None:
        self.id = id
        self.product = product
        self.currency = currency
        self.unit_amount = unit_amount
        self.interval = interval
        self.interval_count = interval_count
        self.nickname = nickname
        self.lookup_key = lookup_key
        self.active = active
        self.created = created
        self.livemode = livemode
        self.legacy_plan = legacy_plan
        self.kind = kind  # "main" | "addon" | "one_time"
        self.tier = tier
        # Pricing model (stand_ins/stripe/price_kinds.py): "per_unit" (``unit_amount``), "decimal"
        # (``unit_amount_decimal`` with fractions of a minor unit, no ``unit_amount``), "graduated" and
        # "volume" (tiered: ``tiers`` of (up_to, unit amount, flat amount)), "metered" (``unit_amount`` per
        # unit of usage, billed by usage).
        self.scheme = "per_unit"
        self.tiers: list[tuple[int | None, int, int | None]] = []
        self.unit_amount_decimal: str | None = None


class Customer:
    __slots__ = ("created", "currency", "email", "email_set_at", "id", "livemode", "name")

    def __init__(  # noqa: PLR0917
        self,
        id: str,
        name: str,
        email: str | None,
        email_set_at: int,
        created: int,
        livemode: bool,
        currency: str,
    ) -> None:
        self.id, self.name, self.email, self.email_set_at = id, name, email, email_set_at
        self.created, self.livemode, self.currency = created, livemode, currency

    def email_at(self, t: int) -> str | None:
        return self.email if t >= self.email_set_at else None


# An item of a subscription at some moment: (subscription item id, price, quantity).
Item = tuple[str, Price, int]


class Change:
    """A mid-period update decided by the generator (for the lifecycle ground truth)."""

    __slots__ = ("at", "behavior", "event_id", "invoice", "kind", "new_items", "old_items")

    def __init__(self, at: int, kind: str, old_items: tuple[Item, ...], new_items: tuple[Item, ...]) -> None:
        self.at, self.kind, self.old_items, self.new_items = at, kind, old_items, new_items
        self.event_id: str | None = None
        # The invoice that carries its proration lines: its own ``subscription_update`` invoice
        # (``always_invoice``), the next invoice of the subscription (``create_prorations``, Stripe's
        # default), or none (``proration_behavior=none``, or deferred and not invoiced yet).
        self.invoice: Invoice | None = None
        self.behavior = "always_invoice"


class Subscription:
    __slots__ = (
        "boundaries",
        "cancel_at_period_end",
        "cancel_comment",
        "cancel_feedback",
        "cancel_reason",
        "canceled_at",
        "changes",
        "created",
        "currency",
        "customer",
        "ended_at",
        "id",
        "livemode",
        "pending",
        "trial_end",
        "version_times",
        "versions",
    )

    def __init__(self, id: str, customer: Customer, created: int, livemode: bool, currency: str) -> None:
        self.id, self.customer, self.created, self.livemode, self.currency = (
            id,
            customer,
            created,
            livemode,
            currency,
        )
        self.version_times: list[int] = []
        self.versions: list[tuple[tuple[Item, ...], dict[str, str]]] = []
        self.boundaries: list[int] = []  # period starts; the last one is the end of the last period
        self.trial_end: int | None = None
        # Stripe's ``canceled_at``: when the cancellation was requested (for a cancellation at period end,
        # before the subscription ends); ``ended_at``: when it ended (status canceled from then on).
        self.canceled_at: int | None = None
        self.ended_at: int | None = None
        self.cancel_at_period_end = False
        self.cancel_reason: str | None = None
        self.cancel_feedback: str | None = None
        self.cancel_comment: str | None = None
        self.changes: list[Change] = []
        self.pending: list[tuple[Change, list[Line]]] = []  # deferred prorations, not invoiced yet

    def add_version(self, at: int, items: tuple[Item, ...], metadata: dict[str, str]) -> None:
        self.version_times.append(at)
        self.versions.append((items, metadata))

    def version_at(self, t: int) -> tuple[tuple[Item, ...], dict[str, str]]:
        i = bisect_right(self.version_times, t) - 1
        return self.versions[max(i, 0)]

    def period_at(self, t: int) -> tuple[int, int]:
        b = self.boundaries
        i = bisect_right(b, t) - 1
        i = min(max(i, 0), len(b) - 2)
        return b[i], b[i + 1]

    def status_at(self, t: int) -> str:
        if self.ended_at is not None and t >= self.ended_at:
            return "canceled"
        if self.trial_end is not None and t < self.trial_end:
            return "trialing"
        return "active"
