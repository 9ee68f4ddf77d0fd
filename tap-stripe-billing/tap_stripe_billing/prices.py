"""Price information from one cached walk of ``GET /v1/prices?limit=100&expand[]=data.product`` (and
``expand[]=data.tiers``: Stripe returns a tiered price's tiers only when expanded).

The walk lists active and inactive prices (Stripe's default when ``active`` is not given) with their
products expanded, so plan levels fall back to the product's name without a request per product. It
is loaded on first use: a run with nothing to emit makes no price request (a backfill starts it in a
thread at once, to overlap it with reading invoices). A run that knows it needs fewer distinct prices
than the walk has pages fetches each singly instead. A price missing from the
walk (created since, or a legacy Plan id) is fetched singly (``GET /v1/prices/{id}?expand[]=product``)
and cached; a price Stripe no longer has falls back to the payload embedded in a legacy line.

With prices remembered from earlier runs (``price_memory.py``), a missing one is fetched singly, and
only after ``WALK_AFTER_MISSES`` misses in one run does the cache walk instead. ``remember`` gives the
entries to keep in state: the still-valid remembered ones, then those used this run (most recent last).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol

from tap_stripe_billing import price_memory, pricing
from tap_stripe_billing.client import list_params
from tap_stripe_billing.payload_versions import object_path
from tap_stripe_billing.records import PriceInfo, price_info_from_payload


class PriceSource(Protocol):
    """What the cache needs from the Stripe client."""

    def get(
        self, path: str, params: Any = (), *, missing_ok: bool = False
    ) -> dict[str, Any] | None: ...  # pragma: no cover

    def list_all(self, path: str, params: Any = ()) -> Any: ...  # pragma: no cover


WALK_AFTER_MISSES = 5  # with remembered prices: single fetches up to this many, then one walk


class PriceCache:
    """Price id → PriceInfo for one run (looked up from one thread; the walk may run in another).

    ``single_only``: each missing price is fetched singly and the walk is skipped. ``remembered``:
    prices kept from earlier runs (``price_memory.load``), already checked against this run's price
    changes: misses are fetched singly, up to ``WALK_AFTER_MISSES``, then the walk runs.
    """

    def __init__(
        self,
        api: PriceSource,
        *,
        single_only: bool = False,
        remembered: Mapping[str, tuple[PriceInfo, str | None]] | None = None,
        borrowed: Mapping[str, tuple[PriceInfo, str | None]] | None = None,
    ) -> None:
        self._api = api
        self._remembered = dict(remembered or {})
        # Another stream's remembered plan levels (no amounts): completed from an embedded payload that
        # has the amounts (see ``lookup``), never kept in this stream's state as they are.
        self._borrowed = {p: entry for p, entry in (borrowed or {}).items() if p not in self._remembered}
        self._prices: dict[str, PriceInfo | None] = {p: info for p, (info, _) in self._remembered.items()}
        self._products: dict[str, str | None] = {p: prod for p, (_, prod) in self._remembered.items()}
        self._used: dict[str, None] = {}
        self._misses_left = WALK_AFTER_MISSES if self._remembered and not single_only else None
        self._walked = single_only or self._misses_left is not None
        self._walking: threading.Thread | None = None
        self._walk_error: BaseException | None = None
        self.walk_pages: int | None = None  # pages of this run's walk (None: no walk)

    def _walk(self) -> None:
        found: dict[str, PriceInfo | None] = {}
        products: dict[str, str | None] = {}
        count = 0
        params = [*list_params(), ("expand[]", "data.product"), ("expand[]", "data.tiers")]
        for price in self._api.list_all("/v1/prices", params):
            found[str(price["id"])] = price_info_from_payload(price)
            products[str(price["id"])] = _product_id(price)
            count += 1
        self._prices.update(found)
        self._products.update(products)
        self.walk_pages = max(1, -(-count // 100))
        self._walked = True

    def warm(self) -> None:
        """Run the walk now (once), or wait for the one started by :meth:`warm_in_background`."""
        if self._walking is not None:
            self._walking.join()
            self._walking = None
            if self._walk_error is not None:
                error, self._walk_error = self._walk_error, None
                raise error
        if not self._walked:
            self._walk()

    def warm_in_background(self) -> None:
        """Start the walk in its own thread (a backfill overlaps it with reading invoices)."""
        if self._walked or self._walking is not None:
            return

        def run() -> None:
            try:
                self._walk()
            except BaseException as exc:  # raised to the caller by warm()
                self._walk_error = exc

        self._walking = threading.Thread(target=run, name="price-walk", daemon=True)
        self._walking.start()

    def lookup(self, price_id: str, embedded: Mapping[str, Any] | None = None) -> PriceInfo | None:
        """Info for a price id: the walk (or what is remembered), else one fetch, else the embedded
        payload. A plan level borrowed from another stream completes an embedded payload whose amount
        is known without a request."""
        if price_id not in self._prices and price_id in self._borrowed and embedded is not None:
            own = price_info_from_payload(embedded)
            if pricing.known(own):
                lent, product = self._borrowed.pop(price_id)
                level = lent.plan_level()  # the product's name when the lender kept the product's id
                named = replace(own, product_name=level) if product else replace(own, nickname=level)
                self._prices[price_id], self._products[price_id] = named, product
        if price_id not in self._prices and self._misses_left is not None:
            if self._misses_left == 0:  # many prices changed or new: one walk is cheaper now
                self._misses_left, self._walked = None, False
            else:
                self._misses_left -= 1
        self.warm()
        if price_id not in self._prices:
            path = object_path("prices", price_id)  # legacy plan ids may hold "/", spaces, "#"
            body = self._api.get(path, [("expand[]", "product"), ("expand[]", "tiers")], missing_ok=True)
            self._prices[price_id] = price_info_from_payload(body) if body else None
            self._products[price_id] = _product_id(body) if body else None
        info = self._prices[price_id]
        if info is not None:
            self._used.pop(price_id, None)
            self._used[price_id] = None
        if info is None and embedded is not None:
            return price_info_from_payload(embedded)
        return info

    def remember(self, *, amounts: bool, walked: bool = False) -> dict[str, list[Any]]:
        """The entries to keep in state: still-valid remembered prices first, then those used this run
        (most recently used last). ``amounts``: keep what the amount of a period needs too. ``walked``:
        every price a walk found this run too (before the others), so another stream may borrow them."""
        out: dict[str, list[Any]] = {}
        first = [p for p in self._prices if p not in self._remembered] if walked and self.walk_pages else []
        later = [p for p in self._remembered if p not in self._used]
        for price_id in [*(p for p in first if p not in self._used), *later, *self._used]:
            info = self._prices.get(price_id)
            if info is not None:
                out[price_id] = price_memory.encode(info, self._products.get(price_id), amounts=amounts)
        return out


def _product_id(price: Mapping[str, Any]) -> str | None:
    product = price.get("product")
    if isinstance(product, Mapping):
        product = product.get("id")
    return str(product) if product else None
