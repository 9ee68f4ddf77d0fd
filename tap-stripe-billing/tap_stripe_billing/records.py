"""Invoice payload → `subscription_billed` record: pure functions, no I/O.

Everything here works on plain dicts as Stripe sends them (JSON), in both shapes an invoice can come in:

- current (API 2025 "basil" and later): subscription at ``parent.subscription_details.subscription``;
  lines carry ``parent.type`` (``subscription_item_details`` / ``invoice_item_details``), the proration
  flag under that parent, and the price id at ``pricing.price_details.price``;
- legacy (events created under older API versions keep their shape): ``invoice.subscription``; lines
  carry ``type`` (``subscription`` / ``invoiceitem``), ``proration`` and embedded ``price``/``plan``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tap_stripe_billing.money import billing_length_months, minor_to_major
from tap_stripe_billing.windows import iso_utc  # records' times; re-exported as ``records.iso_utc``


class FilterReason:
    """Why an invoice payload gives no record (the names appear in the run summary)."""

    NOT_PAID = "not_paid"
    TEST_MODE = "test_mode"
    ZERO_AMOUNT = "zero_amount"
    NOT_SUBSCRIPTION = "not_subscription"
    OUT_OF_WINDOW = "out_of_window"
    BEFORE_START_DATE = "before_start_date"
    DUPLICATE = "duplicate"
    ALREADY_EMITTED = "already_emitted"


@dataclass(frozen=True)
class PriceInfo:
    """What the tap needs from a Price (or a legacy Plan)."""

    price_id: str
    nickname: str | None = None
    lookup_key: str | None = None
    product_name: str | None = None
    interval: str | None = None
    interval_count: int | None = None
    unit_amount: int | None = None  # minor units (a legacy Plan's ``amount``)
    currency: str | None = None
    # How a period's amount is computed (see ``pricing.period_amount``): per unit (``unit_amount_decimal``,
    # which may hold fractions of a minor unit, and ``transform_quantity``), tiered (graduated or volume;
    # ``tiers`` as (up_to, unit_amount_decimal, flat_amount_decimal), None when the payload did not include
    # them: Stripe only returns tiers when expanded), or metered (usage, no fixed amount).
    unit_amount_decimal: Decimal | None = None
    billing_scheme: str = "per_unit"
    tiers_mode: str | None = None
    tiers: tuple[tuple[int | None, Decimal | None, Decimal | None], ...] | None = None
    usage_type: str = "licensed"
    transform_quantity: tuple[int, str] | None = None  # (divide_by, "up" | "down")

    def plan_level(self) -> str:
        """The price's nickname, else its lookup_key, else its product's name, else its id."""
        for candidate in (self.nickname, self.lookup_key, self.product_name):
            if isinstance(candidate, str) and candidate.strip():
                return candidate
        return self.price_id


def price_info_from_payload(price: Mapping[str, Any]) -> PriceInfo:
    """A Price (``recurring``) or legacy Plan (``interval`` at top level) as PriceInfo."""
    recurring = price.get("recurring") or {}
    interval = recurring.get("interval") or price.get("interval")
    count = recurring.get("interval_count") or price.get("interval_count")
    product = price.get("product")
    product_name = product.get("name") if isinstance(product, Mapping) else None
    unit_amount = price.get("unit_amount")
    if unit_amount is None:
        unit_amount = price.get("amount")
    currency = price.get("currency")
    decimal = price.get("unit_amount_decimal")
    if decimal is None:
        decimal = price.get("amount_decimal")
    transform = price.get("transform_quantity")
    tiers = price.get("tiers")
    return PriceInfo(
        price_id=str(price["id"]),
        nickname=price.get("nickname"),
        lookup_key=price.get("lookup_key"),
        product_name=product_name,
        interval=interval,
        interval_count=int(count) if count is not None else None,
        unit_amount=int(unit_amount) if unit_amount is not None else None,
        currency=str(currency).lower() if currency else None,
        unit_amount_decimal=_decimal(decimal),
        billing_scheme=str(price.get("billing_scheme") or "per_unit"),
        tiers_mode=price.get("tiers_mode"),
        tiers=tuple(_tier(t) for t in tiers if isinstance(t, Mapping)) if isinstance(tiers, list) else None,
        usage_type=str(recurring.get("usage_type") or price.get("usage_type") or "licensed"),
        transform_quantity=(
            (int(transform["divide_by"]), str(transform.get("round") or "up"))
            if isinstance(transform, Mapping) and transform.get("divide_by")
            else None
        ),
    )


def _decimal(value: object) -> Decimal | None:
    return Decimal(str(value)) if value is not None and value != "" else None


def _tier(tier: Mapping[str, Any]) -> tuple[int | None, Decimal | None, Decimal | None]:
    """A price tier: (up_to or None for "inf", unit amount, flat amount), amounts in minor units."""
    up_to = tier.get("up_to")
    unit = tier.get("unit_amount_decimal", tier.get("unit_amount"))
    flat = tier.get("flat_amount_decimal", tier.get("flat_amount"))
    return (int(up_to) if isinstance(up_to, int) else None, _decimal(unit), _decimal(flat))


# -- invoice fields -------------------------------------------------------------------------------------
def paid_at(invoice: Mapping[str, Any]) -> int | None:
    """``status_transitions.paid_at`` (unix seconds) or None."""
    value = (invoice.get("status_transitions") or {}).get("paid_at")
    return int(value) if value is not None else None


def subscription_id(invoice: Mapping[str, Any]) -> str | None:
    """The subscription parent: current shape first, then the legacy top-level ``subscription``."""
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") or {}
    sub = details.get("subscription")
    if sub is None:
        sub = invoice.get("subscription")
    if isinstance(sub, Mapping):  # expanded
        sub = sub.get("id")
    return str(sub) if sub else None


def customer_id(invoice: Mapping[str, Any]) -> str | None:
    """``invoice.customer`` (an id, or an expanded object)."""
    customer = invoice.get("customer")
    if isinstance(customer, Mapping):
        customer = customer.get("id")
    return str(customer) if customer else None


def clean_email(value: object) -> str | None:
    """Surrounding spaces trimmed, case kept; blank → None."""
    if not isinstance(value, str):
        return None
    trimmed = value.strip()
    return trimmed or None


# -- lines ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Line:
    """One invoice line, shape-independent."""

    amount: int
    is_subscription: bool
    is_proration: bool
    price_id: str | None
    embedded_price: Mapping[str, Any] | None
    period_start: int | None
    period_end: int | None


def parse_line(line: Mapping[str, Any]) -> Line:
    """Read one line item in either shape."""
    parent = line.get("parent")
    embedded: Mapping[str, Any] | None = None
    price_id: str | None = None
    if isinstance(parent, Mapping) and parent.get("type"):
        ptype = parent.get("type")
        details = parent.get(ptype) or {}
        is_subscription = ptype == "subscription_item_details"
        is_proration = bool(details.get("proration"))
        price_details = (line.get("pricing") or {}).get("price_details") or {}
        raw_price = price_details.get("price")
    else:
        is_subscription = line.get("type") == "subscription"
        is_proration = bool(line.get("proration"))
        raw_price = line.get("price") or line.get("plan")
    if isinstance(raw_price, Mapping):
        embedded = raw_price
        price_id = str(raw_price.get("id")) if raw_price.get("id") else None
    elif raw_price:
        price_id = str(raw_price)
    if embedded is None and isinstance(line.get("plan"), Mapping):
        embedded = line["plan"]
    period = line.get("period") or {}
    return Line(
        amount=int(line.get("amount") or 0),
        is_subscription=is_subscription,
        is_proration=is_proration,
        price_id=price_id,
        embedded_price=embedded,
        period_start=period.get("start"),
        period_end=period.get("end"),
    )


def main_line(lines: Sequence[Line]) -> Line | None:
    """The non-proration subscription line with the largest amount; else the largest positive proration
    line; else (an invoice with neither) the largest positive line. Ties keep the first line."""

    def largest(candidates: list[Line]) -> Line | None:
        best: Line | None = None
        for line in candidates:
            if best is None or line.amount > best.amount:
                best = line
        return best

    regular = [ln for ln in lines if ln.is_subscription and not ln.is_proration]
    if regular:
        return largest(regular)
    prorations = [ln for ln in lines if ln.is_proration and ln.amount > 0]
    if prorations:
        return largest(prorations)
    return largest([ln for ln in lines if ln.amount > 0])


# -- filter and build -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rules:
    """The settings that decide what is emitted."""

    allow_test_mode: bool = False
    include_zero_amount: bool = False


def filter_reason(invoice: Mapping[str, Any], rules: Rules, *, from_paid_event: bool = False) -> str | None:
    """Why this invoice gives no record, or None when it qualifies.

    An ``invoice.paid`` event's payload is the invoice as of the event: trust the event type plus
    ``status_transitions.paid_at`` rather than a possibly stale ``status``.
    """
    if invoice.get("livemode") is not True and not rules.allow_test_mode:
        return FilterReason.TEST_MODE
    if paid_at(invoice) is None or (not from_paid_event and invoice.get("status") != "paid"):
        return FilterReason.NOT_PAID
    if subscription_id(invoice) is None:
        return FilterReason.NOT_SUBSCRIPTION
    amount = int(invoice.get("amount_paid") or 0)
    if amount < 0 or (amount == 0 and not rules.include_zero_amount):
        return FilterReason.ZERO_AMOUNT
    return None


def build_record(
    invoice: Mapping[str, Any],
    lines: Sequence[Mapping[str, Any]],
    price_lookup: Callable[[str, Mapping[str, Any] | None], PriceInfo | None],
    email: str | None,
) -> dict[str, Any]:
    """The record for a qualifying invoice.

    ``lines`` are all of the invoice's lines (paged in by the caller when ``lines.has_more``);
    ``price_lookup(price_id, embedded_payload)`` gives the price info (cache, single fetch, or the
    embedded legacy payload); ``email`` is the already-resolved customer email (or None).
    """
    main = main_line([parse_line(line) for line in lines])
    info: PriceInfo | None = None
    if main is not None and main.price_id:
        # A price Stripe no longer has (a deleted legacy plan: 404) still names a plan level: its id.
        info = price_lookup(main.price_id, main.embedded_price) or PriceInfo(main.price_id)
    currency = str(invoice.get("currency") or "").lower()
    amount_minor = int(invoice.get("amount_paid") or 0)
    return {
        "invoice_id": invoice["id"],
        "paid_at": iso_utc(paid_at(invoice)),
        "customer_id": customer_id(invoice),
        "customer_email": email,
        "subscription_id": subscription_id(invoice),
        "amount": minor_to_major(amount_minor, currency),
        "amount_minor": amount_minor,
        "currency": currency,
        "billing_length_months": (
            billing_length_months(info.interval, info.interval_count) if info is not None else None
        ),
        "plan_level": info.plan_level() if info is not None else None,
        "billing_reason": invoice.get("billing_reason"),
        "period_start": iso_utc(main.period_start) if main is not None else None,
        "period_end": iso_utc(main.period_end) if main is not None else None,
        "livemode": bool(invoice.get("livemode")),
    }
