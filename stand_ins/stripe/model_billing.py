"""Billing records: invoices and their lines, payments, refunds, credit notes, and the events about them
(re-exported by ``model``, which holds the catalog, customer and subscription records)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import Customer, Price, Subscription


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
