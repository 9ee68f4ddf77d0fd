"""Products and prices of one mode: plan tiers in several intervals and currencies, add-ons, one-offs."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from . import price_kinds as price_kinds_module
from .config import DAY
from .ids import IdFactory
from .model import Price, Product
from .money import WHOLE_UNITS_ONLY, whole

CURRENCIES = ("usd", "eur", "jpy", "kwd")
CURRENCY_WEIGHTS = (60, 25, 10, 5)
# Stripe's special cases (``AccountConfig.extra_currencies``): ISK and UGX are two-decimal in Stripe's API
# with no minor unit (amounts are multiples of 100), HUF is two-decimal.
EXTRA_CURRENCIES = ("ugx", "isk", "huf")
EXTRA_WEIGHT = 4
# units of the currency in Stripe's API per US cent
_FX = {"usd": 1.0, "eur": 0.92, "jpy": 1.5, "kwd": 3.08, "ugx": 3700.0, "isk": 138.0, "huf": 360.0}

# (interval, interval_count, label, weight)
INTERVALS = (
    ("month", 1, "monthly", 60),
    ("month", 3, "quarterly", 10),
    ("year", 1, "yearly", 15),
    ("week", 1, "weekly", 8),
    ("week", 2, "biweekly", 7),
)
TIERS = (("Starter", 900), ("Pro", 3000), ("Business", 9900))
TIER_WEIGHTS = (50, 35, 15)
ADDONS = (
    ("Extra seats", 800),
    ("Priority support", 700),
    ("SSO", 600),
    ("Audit log", 500),
    ("API access", 450),
    ("Sandbox", 400),
    ("Analytics", 350),
    ("Backups", 300),
    ("Custom domain", 250),
    ("White label", 700),
    ("Webhooks plus", 200),
    ("Data export", 150),
    ("Compliance pack", 650),
    ("Storage 100 GB", 100),
    ("Phone support", 550),
)
ONE_OFFS = (("Onboarding package", 49_900), ("Consulting hour", 15_000), ("Setup fee", 9_900))


def amount_for(cents_per_month: int, currency: str, interval: str, count: int) -> int:
    if interval == "month":
        cents = cents_per_month * count
    elif interval == "year":
        cents = cents_per_month * 10 * count
    else:  # week
        cents = round(cents_per_month * 12 / 52) * count
    amount = max(1, round(cents * _FX[currency]))
    return max(100, whole(amount, currency)) if currency in WHOLE_UNITS_ONLY else amount


@dataclass
class Catalog:
    livemode: bool
    products: list[Product] = field(default_factory=list)
    prices: list[Price] = field(default_factory=list)
    # (currency, interval, count) -> [price per tier]
    mains: dict[tuple[str, str, int], list[Price]] = field(default_factory=dict)
    # archived (inactive) predecessors of some monthly main prices, and legacy Plans
    archived: dict[tuple[str, str, int], list[Price]] = field(default_factory=dict)
    legacy: dict[tuple[str, str, int], list[Price]] = field(default_factory=dict)
    addons: dict[tuple[str, str, int], list[Price]] = field(default_factory=dict)
    # (currency, interval, count) -> kind (price_kinds.KINDS) -> [price per tier]
    specials: dict[tuple[str, str, int], dict[str, list[Price]]] = field(default_factory=dict)
    one_offs: dict[str, list[Price]] = field(default_factory=dict)


def _price_naming(rng: random.Random, name: str, label: str, key: str) -> tuple[str | None, str | None]:
    """Some prices have a nickname, some only a lookup_key, some neither (then the product name)."""
    roll = rng.random()
    if roll < 0.4:
        return f"{name} {label.capitalize()}", None
    if roll < 0.7:
        return None, key
    return None, None


class _Builder:
    def __init__(self, ids: IdFactory, livemode: bool, created: int) -> None:
        self.ids, self.livemode, self.created = ids, livemode, created
        self.cat = Catalog(livemode)

    def product(self, name: str, description: str) -> Product:
        p = Product(self.ids.new("prod"), name, description, self.created, self.livemode)
        self.cat.products.append(p)
        return p

    def price(
        self,
        product: Product,
        currency: str,
        amount: int,
        interval: str | None,
        count: int,
        *,
        nickname: str | None = None,
        lookup_key: str | None = None,
        active: bool = True,
        kind: str = "main",
        tier: int = 0,
        price_id: str | None = None,
    ) -> Price:
        p = Price(
            price_id or self.ids.new("price"),
            product,
            currency,
            amount,
            interval,
            count,
            nickname=nickname,
            lookup_key=lookup_key,
            active=active,
            created=self.created,
            livemode=self.livemode,
            legacy_plan=price_id is not None,
            kind=kind,
            tier=tier,
        )
        self.cat.prices.append(p)
        return p


def _legacy_plan_id(mode: str, name: str, label: str, tier: int) -> str:
    """Plan ids were chosen by the account: old ones may hold "/", spaces or "#" (one tier's does)."""
    if tier == 1:
        return f"{mode}{name} {label}/2016 #legacy"
    return f"{mode}{name.lower()}-{label}-legacy"


def build_catalog(  # noqa: PLR0917
    rng: random.Random,
    ids: IdFactory,
    livemode: bool,
    t0: int,
    currencies: tuple[str, ...] = CURRENCIES,
    price_kinds: bool = False,
) -> Catalog:
    b = _Builder(ids, livemode, t0 - 400 * DAY)
    cat = b.cat
    mode = "" if livemode else "test_"
    tier_products = [b.product(name, f"The {name} plan") for name, _ in TIERS]
    addon_products = [b.product(name, f"Add-on: {name}") for name, _ in ADDONS]
    one_off_products = [b.product(name, name) for name, _ in ONE_OFFS]
    for currency in currencies:
        for interval, count, label, _ in INTERVALS:
            key = (currency, interval, count)
            cat.mains[key] = []
            for tier, ((name, cents), prod) in enumerate(zip(TIERS, tier_products, strict=True)):
                nickname, lookup = _price_naming(rng, name, label, f"{mode}{name.lower()}_{label}_{currency}")
                amount = amount_for(cents, currency, interval, count)
                cat.mains[key].append(
                    b.price(
                        prod,
                        currency,
                        amount,
                        interval,
                        count,
                        nickname=nickname,
                        lookup_key=lookup,
                        tier=tier,
                    )
                )
            cat.addons[key] = [
                b.price(
                    prod,
                    currency,
                    amount_for(cents, currency, interval, count),
                    interval,
                    count,
                    nickname=f"{name} ({label})" if i % 3 == 0 else None,
                    kind="addon",
                )
                for i, ((name, cents), prod) in enumerate(zip(ADDONS, addon_products, strict=True))
            ]
            if price_kinds:
                cat.specials[key] = {
                    kind: [
                        price_kinds_module.shape(
                            b.price(
                                prod,
                                currency,
                                amount_for(cents, currency, interval, count),
                                interval,
                                count,
                                nickname=f"{name} {label.capitalize()} ({kind})",
                                tier=tier,
                            ),
                            kind,
                        )
                        for tier, ((name, cents), prod) in enumerate(zip(TIERS, tier_products, strict=True))
                    ]
                    for kind in price_kinds_module.KINDS
                }
            if interval == "month" and count == 1 and currency in ("usd", "eur"):
                cat.archived[key] = [
                    b.price(
                        prod,
                        currency,
                        amount_for(cents * 8 // 10, currency, interval, count),
                        interval,
                        count,
                        nickname=f"{name} Monthly (2024)" if tier != 1 else None,
                        active=False,
                        tier=tier,
                    )
                    for tier, ((name, cents), prod) in enumerate(zip(TIERS, tier_products, strict=True))
                ]
            if currency == "usd" and interval in ("month", "year") and count == 1:
                cat.legacy[key] = [
                    b.price(
                        prod,
                        currency,
                        amount_for(cents * 9 // 10, currency, interval, count),
                        interval,
                        count,
                        price_id=_legacy_plan_id(mode, name, label, tier),
                        nickname=f"{name} (legacy plan)" if tier == 0 else None,
                        active=tier != 2,
                        tier=tier,
                    )
                    for tier, ((name, cents), prod) in enumerate(zip(TIERS, tier_products, strict=True))
                ]
        cat.one_offs[currency] = [
            b.price(prod, currency, amount_for(cents, currency, "month", 1), None, 1, kind="one_time")
            for (_, cents), prod in zip(ONE_OFFS, one_off_products, strict=True)
        ]
    return cat
