"""The generator's invoice lifecycle: finalize, pay, fail, collect and refund."""

from __future__ import annotations

from . import generator_billing_kinds as kinds
from .config import DAY
from .generator_state import GeneratorState
from .model import CreditNote, Invoice, InvoicePayment, Refund
from .money import whole

REFUND_REASONS = ("requested_by_customer",) * 5 + ("duplicate", "fraudulent", None, None)


class GeneratorPayments(GeneratorState):
    """How an invoice, once created, is finalized, paid (or not) and refunded."""

    def finalize(self, inv: Invoice, at: int) -> None:
        inv.finalized_at = at
        inv.customer_email = inv.customer.email_at(at)
        self.emit("invoice.finalized", at, inv)
        if inv.amount_due > 0:
            inv.pi_id = self.ids.new("pi")
            inv.ch_id = self.ids.new("ch")
            inv.ip_id = self.ids.new("inpay")
            self.payments.append(InvoicePayment(inv.ip_id, inv, at))
            kinds.charges_api_payment(self, inv)

    def pay(self, inv: Invoice, at: int) -> None:
        inv.paid_at = at
        inv.paid_amount = inv.amount_due
        created = at
        share = self.cfg.late_paid_event_share
        if share and self.rng.random() < share:  # no draw when off: seeded accounts stay as they were
            created = at + self.rng.randint(1, self.cfg.late_paid_event_max_seconds)
        self.emit("invoice.paid", created, inv)
        if kinds.shared_payment(self, inv, at) is not None:
            if self.rng.random() < 0.5:
                self.refund(inv, credit_note=False)
            return
        if inv.paid_amount > 0 and self.rng.random() < self.cfg.refund_share:
            self.refund(inv)

    def fail(self, inv: Invoice, at: int) -> None:
        inv.failed_at = at
        self.emit("invoice.payment_failed", at, inv)

    def collect(self, inv: Invoice, finalized_at: int, latest_give_up: int) -> bool:
        """Finalize and try to pay; False when the invoice ends uncollectible."""
        rng = self.rng
        self.finalize(inv, finalized_at)
        if inv.amount_due == 0:
            self.pay(inv, finalized_at)
            return True
        if rng.random() >= self.cfg.payment_failure_share:
            self.pay(inv, finalized_at + rng.randint(1, 90))
            return True
        self.fail(inv, finalized_at + 5)
        if rng.random() < 0.75:
            self.pay(inv, finalized_at + rng.randint(1, 20) * DAY + rng.randint(0, DAY - 1))
            return True
        inv.uncollectible_at = max(finalized_at + 60, min(finalized_at + 20 * DAY, latest_give_up))
        self.emit("invoice.marked_uncollectible", inv.uncollectible_at, inv)
        return False

    def refund(self, inv: Invoice, *, credit_note: bool = True) -> None:
        rng = self.rng
        assert inv.paid_at is not None
        at = inv.paid_at + rng.randint(3600, 20 * DAY)
        if at > self.t_end:
            return
        amount = (
            inv.paid_amount
            if rng.random() < 0.5 or inv.paid_amount < 2
            else whole(rng.randint(1, inv.paid_amount - 1), inv.currency) or inv.paid_amount
        )
        roll = rng.random()
        status = "succeeded" if roll < 0.94 else "failed" if roll < 0.97 else "pending"
        refund = Refund(self.ids.new("re"), inv, amount, at, rng.choice(REFUND_REASONS), status)
        self.refunds.append(refund)
        inv.refunds.append(refund)
        self.emit("refund.created", at, refund)
        if status == "succeeded":
            self.emit("charge.refunded", at, refund)
            if credit_note and rng.random() < 0.5:
                note = CreditNote(self.ids.new("cn"), inv, amount, at, refund)
                note.number = f"{inv.number}-CN-{len(inv.credit_notes) + 1:02d}"
                inv.credit_notes.append(note)
                self.credit_notes.append(note)
                self.emit("credit_note.created", at, note)
