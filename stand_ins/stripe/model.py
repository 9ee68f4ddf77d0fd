"""Compact internal records the generator decides; JSON payloads are rendered from them on demand.

Everything time-dependent (an invoice's status, a subscription's items) is stored as a timeline, and
read "as of" a clock value by the helpers at the bottom.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

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


class Line:
    __slots__ = ("amount", "description", "end", "id", "price", "proration", "quantity", "si_id", "start")

    def __init__(  # noqa: PLR0917
        self,
        id: str,
        price: Price,
        quantity: int,
        amount: int,
        start: int,
        end: int,
        proration: bool,
        si_id: str | None,
        description: str,
    ) -> None:
        self.id, self.price, self.quantity, self.amount = id, price, quantity, amount
        self.start, self.end, self.proration, self.si_id = start, end, proration, si_id
        self.description = description


class Invoice:
    __slots__ = (
        "billing_reason",
        "ch_id",
        "created",
        "credit_notes",
        "currency",
        "customer",
        "customer_email",
        "failed_at",
        "finalized_at",
        "id",
        "ip_id",
        "lines",
        "livemode",
        "main_line",
        "number",
        "paid_amount",
        "paid_at",
        "pi_id",
        "refunds",
        "starting_balance",
        "sub",
        "sub_metadata",
        "total",
        "uncollectible_at",
        "voided_at",
    )

    def __init__(  # noqa: PLR0917
        self,
        id: str,
        customer: Customer,
        sub: Subscription | None,
        created: int,
        billing_reason: str,
        lines: list[Line],
    ) -> None:
        self.id, self.customer, self.sub, self.created = id, customer, sub, created
        self.livemode = customer.livemode
        self.currency = customer.currency
        self.billing_reason = billing_reason
        self.lines = lines
        self.total = sum(line.amount for line in lines)
        self.starting_balance = 0
        self.paid_amount = 0  # amount_paid once paid (amount_due)
        self.finalized_at: int | None = None
        self.paid_at: int | None = None
        self.failed_at: int | None = None
        self.voided_at: int | None = None
        self.uncollectible_at: int | None = None
        self.customer_email: str | None = None
        self.sub_metadata: dict[str, str] = {}
        self.main_line: Line | None = None
        self.pi_id: str | None = None
        self.ch_id: str | None = None
        self.ip_id: str | None = None
        self.number = ""
        self.credit_notes: list[CreditNote] = []
        self.refunds: list[Refund] = []

    @property
    def amount_due(self) -> int:
        return max(0, self.total + self.starting_balance)

    def status_at(self, t: int) -> str:
        if self.finalized_at is None or t < self.finalized_at:
            return "draft"
        if self.paid_at is not None and t >= self.paid_at:
            return "paid"
        if self.voided_at is not None and t >= self.voided_at:
            return "void"
        if self.uncollectible_at is not None and t >= self.uncollectible_at:
            return "uncollectible"
        return "open"


class Charge:
    """A Charges-API payment of no invoice (a one-off charge): refunds of it are not subscription refunds."""

    __slots__ = ("amount", "created", "currency", "customer", "id", "livemode", "refunds")

    def __init__(self, id: str, customer: Customer, amount: int, created: int) -> None:
        self.id, self.customer, self.amount, self.created = id, customer, amount, created
        self.currency, self.livemode = customer.currency, customer.livemode
        self.refunds: list[Refund] = []


class Refund:
    """A refund of an invoice's payment, or (``invoice`` None) of a standalone :class:`Charge`."""

    __slots__ = ("amount", "charge", "created", "id", "invoice", "reason", "status")

    def __init__(  # noqa: PLR0917
        self,
        id: str,
        invoice: Invoice | None,
        amount: int,
        created: int,
        reason: str | None,
        status: str,
        charge: Charge | None = None,
    ) -> None:
        self.id, self.invoice, self.amount, self.created = id, invoice, amount, created
        self.reason, self.status, self.charge = reason, status, charge

    @property
    def _source(self) -> Invoice | Charge:
        source = self.invoice if self.invoice is not None else self.charge
        assert source is not None
        return source

    @property
    def livemode(self) -> bool:
        return self._source.livemode

    @property
    def ch_id(self) -> str | None:
        return self.invoice.ch_id if self.invoice is not None else self._source.id

    @property
    def pi_id(self) -> str | None:
        """None for a Charges-API payment (no PaymentIntent)."""
        return self.invoice.pi_id if self.invoice is not None else None

    @property
    def currency(self) -> str:
        return self._source.currency

    @property
    def customer(self) -> Customer:
        return self._source.customer


class CreditNote:
    __slots__ = ("amount", "created", "id", "invoice", "number", "refund")

    def __init__(self, id: str, invoice: Invoice, amount: int, created: int, refund: Refund | None) -> None:
        self.id, self.invoice, self.amount, self.created, self.refund = id, invoice, amount, created, refund
        self.number = ""

    @property
    def livemode(self) -> bool:
        return self.invoice.livemode


class InvoicePayment:
    __slots__ = ("created", "id", "invoice")

    def __init__(self, id: str, invoice: Invoice, created: int) -> None:
        self.id, self.invoice, self.created = id, invoice, created

    @property
    def livemode(self) -> bool:
        return self.invoice.livemode


class Event:
    __slots__ = ("created", "id", "legacy", "livemode", "obj", "previous", "type", "visible_at")

    def __init__(  # noqa: PLR0917
        self,
        id: str,
        type: str,
        created: int,
        visible_at: int,
        obj: Any,
        legacy: bool,
        previous: dict[str, Any] | None,
    ) -> None:
        self.id, self.type, self.created, self.visible_at = id, type, created, visible_at
        self.obj, self.legacy, self.previous = obj, legacy, previous
        self.livemode: bool = obj.livemode
