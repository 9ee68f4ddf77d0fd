"""Payment kinds real accounts have besides "one PaymentIntent paid one invoice" (each off by default,
switched on by its ``AccountConfig`` share so that other accounts stay the same, payload for payload):

- **Charges-API payments** (``charge_payment_share``): an invoice paid by a charge with no PaymentIntent
  (old integrations, ``source`` payments). Its InvoicePayment's ``payment`` is ``{"type": "charge"}``;
  its refunds carry ``charge`` and ``payment_intent: null``.
- **Standalone charges** (``standalone_charge_share``): a one-off charge of no invoice at all, refunded:
  not a subscription refund.
- **Deferred and unprorated changes** (``deferred_change_share``, ``none_change_share``): a mid-period
  change with ``proration_behavior=create_prorations`` (Stripe's default: the proration lines wait as
  pending invoice items for the subscription's next invoice, no ``subscription_update`` invoice) or
  ``none`` (no proration lines at all). A change of billing interval is always invoiced at once.
- **One PaymentIntent, several invoices** (``shared_payment_share``): a subscription invoice and a one-off
  invoice of the same customer paid together by one PaymentIntent (``POST /v1/invoices/{id}/attach_payment``
  since 2025-03-31.basil); the refund of that PaymentIntent is attributed by the rule of
  ``truth.refund_invoice``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .catalog import Catalog
from .config import DAY
from .model import Change, Charge, Invoice, InvoicePayment, Line, Price, Refund, Subscription
from .price_kinds import KINDS, charged

if TYPE_CHECKING:
    from .generator_state import GeneratorState


def charges_api_payment(gen: GeneratorState, inv: Invoice) -> None:
    """Maybe make the payment of a just-finalized invoice a Charges-API one (no PaymentIntent)."""
    share = gen.cfg.charge_payment_share
    if share and inv.pi_id is not None and gen.rng.random() < share:
        inv.pi_id = None


def standalone_charge(gen: GeneratorState, livemode: bool) -> bool:
    """Maybe make a one-off charge of no invoice (refunded more often than not). True when made."""
    share = gen.cfg.standalone_charge_share
    rng = gen.rng
    if not share or rng.random() >= share:
        return False
    created = rng.randint(gen.t0, gen.t_end)
    cust = gen.customer(livemode, created)
    price = rng.choice(gen.catalogs[livemode].one_offs[cust.currency])
    charge = Charge(gen.ids.new("ch"), cust, price.unit_amount, created)
    gen.charges.append(charge)
    if rng.random() < 0.7:
        at = created + rng.randint(3600, 10 * DAY)
        if at <= gen.t_end:
            refund = Refund(
                gen.ids.new("re"), None, charge.amount, at, "requested_by_customer", "succeeded", charge
            )
            gen.refunds.append(refund)
            charge.refunds.append(refund)
            gen.emit("refund.created", at, refund)
            gen.emit("charge.refunded", at, refund)
    return True


def shared_payment(gen: GeneratorState, inv: Invoice, at: int) -> Invoice | None:
    """Maybe pay a one-off invoice of the same customer with the PaymentIntent of ``inv`` (just paid)."""
    share = gen.cfg.shared_payment_share
    rng = gen.rng
    if not share or inv.sub is None or inv.pi_id is None or inv.paid_amount <= 0 or rng.random() >= share:
        return None
    cust = inv.customer
    price = rng.choice(gen.catalogs[cust.livemode].one_offs[cust.currency])
    line = gen.line(price, 1, price.unit_amount, at, at, False, None, price.product.name)
    other = gen.invoice(cust, None, at, "manual", [line])
    other.finalized_at = at
    other.customer_email = cust.email_at(at)
    other.pi_id, other.ch_id, other.ip_id = inv.pi_id, inv.ch_id, gen.ids.new("inpay")
    gen.payments.append(InvoicePayment(other.ip_id, other, at))
    other.paid_at = at
    other.paid_amount = other.amount_due
    gen.emit("invoice.paid", at, other)
    return other


def not_invoiced_now(gen: GeneratorState, sub: Subscription, change: Change, lines: list[Line]) -> bool:
    """Maybe make a change deferred (its lines pending for the next invoice) or unprorated (no lines).
    True when the change gets no invoice of its own."""
    cfg, rng = gen.cfg, gen.rng
    if not (cfg.deferred_change_share or cfg.none_change_share):
        return False
    roll = rng.random()
    if roll < cfg.deferred_change_share:
        change.behavior = "create_prorations"
        sub.pending.append((change, lines))
        return True
    if roll < cfg.deferred_change_share + cfg.none_change_share:
        change.behavior = "none"
        return True
    return False


def take_pending(sub: Subscription | None) -> list[tuple[Change, list[Line]]]:
    """The deferred prorations a new invoice of ``sub`` takes in (and clears)."""
    if sub is None or not sub.pending:
        return []
    pending, sub.pending = sub.pending, []
    return pending


def special_price(
    gen: GeneratorState, cat: Catalog, key: tuple[str, str, int], main: Price, qty: int
) -> tuple[Price, int]:
    """Maybe put a new subscription on a tiered, decimal or metered price of the same tier."""
    share = gen.cfg.price_kinds_share
    if not share or gen.rng.random() >= share:
        return main, qty
    price = cat.specials[key][gen.rng.choice(KINDS)][main.tier]
    if price.scheme in ("graduated", "volume") and qty == 1 and gen.rng.random() < 0.6:
        qty = gen.rng.randint(2, 12)  # tiers matter above one unit
    return price, 1 if price.scheme == "metered" else qty


def changed_price(
    gen: GeneratorState, cat: Catalog, key: tuple[str, str, int], tier: int, items: int
) -> Price:
    """The price an upgrade or downgrade moves to: the tier's per-unit price, or (``price_kinds_share``)
    one of its other kinds (metered only for a subscription of one item, as ``special_price``)."""
    share = gen.cfg.price_kinds_share
    if share and gen.rng.random() < share:
        kind = gen.rng.choice(KINDS if items == 1 else tuple(k for k in KINDS if k != "metered"))
        return cat.specials[key][kind][tier]
    return cat.mains[key][tier]


def period_line(gen: GeneratorState, price: Price, qty: int) -> tuple[int, int]:
    """(amount, quantity) of an item's line for one period: a metered item bills its usage."""
    if price.scheme != "metered":
        return charged(price, qty), qty
    usage = gen.rng.randint(1, 40)
    return price.unit_amount * usage, usage
