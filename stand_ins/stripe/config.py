"""The knobs of a generated account."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_NOW = 1_793_491_200  # 2026-11-01T00:00:00Z
DAY = 86_400


@dataclass(frozen=True)
class AccountConfig:
    """What to generate. ``invoices`` is roughly the number of live invoices created up to ``now``.

    The whole timeline from ``now - history_days`` to ``now + horizon_days`` is generated up front, so
    the clock can be advanced. Events are materialised only from ``now - event_history_days`` on (Stripe
    keeps 30 days); setting the clock more than ``event_history_days - 30`` days before ``now`` shows
    fewer events than Stripe would.

    An account that never upgraded since 2017 is ``api_version="2017-08-15", legacy_event_share=0``.
    """

    seed: int = 0
    invoices: int = 1_000
    now: int = DEFAULT_NOW
    history_days: int = 400
    horizon_days: int = 14
    event_history_days: int = 35
    test_mode_share: float = 0.05
    # The account's default API version (what requests without Stripe-Version get, and what events are
    # rendered in); a share of events predate its last upgrade and carry ``previous_api_version``.
    api_version: str = "2026-10-28.endive"
    previous_api_version: str = "2024-06-20"
    legacy_event_share: float = 0.10
    late_event_share: float = 0.03
    # invoice.paid events created after the invoice's status_transitions.paid_at, by 1 s up to
    # late_paid_event_max_seconds: Stripe creates an event when it records the change, and nothing in its
    # API promises that to be the same second as the timestamp the object carries. Off by default (the
    # seeded accounts other tests and the benchmarks use stay as they were); the whole-run late-event
    # tests turn it on. The ground truth (truth.expected_billed) stays what Stripe holds: paid_at.
    late_paid_event_share: float = 0.0
    late_paid_event_max_seconds: int = 600
    one_off_share: float = 0.06
    trial_share: float = 0.15
    payment_failure_share: float = 0.08
    change_share: float = 0.06
    refund_share: float = 0.03
    # Shares that set how often the tap must make a single-object request. Realistic values (see
    # benchmarks/README.md): a paying subscriber with no email at all is rare (Checkout and Billing's
    # invoice emails need one), an email added after the first invoice is finalized rarer still, and a
    # subscription with more than 10 items (an invoice that does not embed all its lines) is rarer yet.
    no_email_share: float = 0.004  # customers with no email
    late_email_share: float = 0.01  # customers whose email is set 1-45 days after they were created
    many_items_share: float = 0.002  # subscriptions with 11-14 add-on items (invoices of > 10 lines)
    # Payment kinds of real accounts (generator_billing_kinds.py); 0 keeps an account as it was.
    charge_payment_share: float = 0.0  # invoice payments by a charge with no PaymentIntent
    standalone_charge_share: float = 0.0  # one-off slots that are a charge of no invoice (often refunded)
    extra_currencies: tuple[str, ...] = ()  # e.g. catalog.EXTRA_CURRENCIES: ISK, UGX, HUF customers
    # subscription payments whose PaymentIntent also pays a one-off invoice
    shared_payment_share: float = 0.0
    # cancellations requested for the end of the period (the Customer Portal's default): Stripe's
    # ``canceled_at`` is the request, ``ended_at`` and the ``deleted`` event the period end
    period_end_cancel_share: float = 0.0
    # mid-period changes with proration_behavior=create_prorations (deferred to the next invoice, Stripe's
    # default) and =none (no prorations); the rest are invoiced at once (always_invoice)
    deferred_change_share: float = 0.0
    none_change_share: float = 0.0
    # subscriptions (and plan changes) on tiered, decimal and metered prices (price_kinds.py)
    price_kinds_share: float = 0.0
    # Stripe sends ``customer.subscription.updated`` when a subscription renews (its period moves, and
    # a trial ends): previous_attributes has the old period (``items`` with their old periods since
    # 2025-03-31.basil; ``current_period_start``/``_end`` before). Drawn from a random stream of their
    # own, so the rest of a seeded account stays as it was.
    renewal_events: bool = True
