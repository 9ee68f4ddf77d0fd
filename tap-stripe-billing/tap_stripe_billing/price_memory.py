"""Prices remembered across runs in the stream's state, so that a quiet hour needs no price walk.

Kept under ``"prices"`` in the stream state of each stream that looks prices up::

    "prices": {"at": 1733486400, "by_id": {"price_1N…": ["Pro", "month", 1], …}}

An entry holds what the records need: the plan level (already resolved: nickname, else lookup key,
else product name), the billing interval and interval count; the product id only when the plan level
is the product's name; and, for ``subscription_changed``, what ``pricing.period_amount`` needs
(currency, amounts, tiers, usage type, quantity transform). Trailing empty fields are left out. No
customer data (no emails) is ever kept here.

Valid only while nothing in between is unseen: ``at`` is the U of the run that wrote it, and the run's
shared events read (``events_feed.py``) must start at or before it. Every ``price.*``, ``plan.*`` and
``product.*`` change in that read drops the entries it touches (a product change: the entries whose
plan level is that product's name); they are fetched again when needed. At most ``MAX_ENTRIES``
entries, the most recently used kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from decimal import Decimal
from typing import Any

from tap_stripe_billing.records import PriceInfo

PRICES_KEY = "prices"
MAX_ENTRIES = 2_000


def encode(info: PriceInfo, product_id: str | None, *, amounts: bool) -> list[Any]:
    """A compact entry (see the module docstring)."""
    from_product = not any(
        isinstance(v, str) and v.strip() for v in (info.nickname, info.lookup_key)
    ) and bool(info.product_name)
    product = product_id if from_product else None
    entry: list[Any] = [info.plan_level(), info.interval, info.interval_count, product]
    if amounts:
        tiers = None
        if info.tiers is not None:
            tiers = [[up, _text(unit), _text(flat)] for up, unit, flat in info.tiers]
        entry += [
            info.currency,
            info.unit_amount,
            _text(info.unit_amount_decimal),
            None if info.billing_scheme == "per_unit" else info.billing_scheme,
            info.tiers_mode,
            tiers,
            None if info.usage_type == "licensed" else info.usage_type,
            list(info.transform_quantity) if info.transform_quantity else None,
        ]
    while entry and entry[-1] is None:
        entry.pop()
    return entry


def decode(price_id: str, entry: list[Any]) -> tuple[PriceInfo, str | None]:
    """An entry back as PriceInfo (the plan level as its nickname) and its product id (or None)."""
    e = list(entry) + [None] * (12 - len(entry))
    tiers = None
    if isinstance(e[9], list):
        tiers = tuple((t[0], _dec(t[1]), _dec(t[2])) for t in e[9])
    info = PriceInfo(
        price_id=price_id,
        nickname=e[0],
        interval=e[1],
        interval_count=e[2],
        currency=e[4],
        unit_amount=e[5],
        unit_amount_decimal=_dec(e[6]),
        billing_scheme=e[7] or "per_unit",
        tiers_mode=e[8],
        tiers=tiers,
        usage_type=e[10] or "licensed",
        transform_quantity=(int(e[11][0]), str(e[11][1])) if e[11] else None,
    )
    return info, e[3]


def load(state: Mapping[str, Any], *, covered_from: int | None) -> dict[str, tuple[PriceInfo, str | None]]:
    """The remembered prices, if the run's events read starts at or before they were written."""
    saved = state.get(PRICES_KEY)
    if covered_from is None or not isinstance(saved, Mapping):
        return {}
    at, by_id = saved.get("at"), saved.get("by_id")
    if not isinstance(at, int) or covered_from > at or not isinstance(by_id, Mapping):
        return {}
    out: dict[str, tuple[PriceInfo, str | None]] = {}
    for price_id, entry in by_id.items():
        if isinstance(entry, list) and entry:
            out[str(price_id)] = decode(str(price_id), entry)
    return out


def invalidate(
    remembered: MutableMapping[str, tuple[PriceInfo, str | None]], changes: Iterable[Mapping[str, Any]]
) -> int:
    """Drop the entries the price, plan and product events touch; how many were dropped."""
    prices: set[str] = set()
    products: set[str] = set()
    for event in changes:
        obj = (event.get("data") or {}).get("object") or {}
        object_id = str(obj.get("id") or "")
        if str(event.get("type", "")).startswith("product."):
            products.add(object_id)
        else:
            prices.add(object_id)
    gone = [p for p, (_, product) in remembered.items() if p in prices or (product and product in products)]
    for price_id in gone:
        del remembered[price_id]
    return len(gone)


def save(
    state: MutableMapping[str, Any],
    entries: Mapping[str, list[Any]],
    *,
    at: int,
) -> None:
    """Write the entries (oldest use first; only the last ``MAX_ENTRIES`` kept) with the run's U."""
    kept = list(entries.items())[-MAX_ENTRIES:]
    state[PRICES_KEY] = {"at": at, "by_id": dict(kept)}


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _dec(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))
