"""Price information from one cached walk of ``GET /v1/prices?limit=100&expand[]=data.product``.

The walk lists active and inactive prices (Stripe's default when ``active`` is not given) with their
products expanded, so plan levels fall back to the product's name without a request per product. It
is loaded on first use: a run with nothing to emit makes no price request. A price missing from the
walk (created since, or a legacy Plan id) is fetched singly (``GET /v1/prices/{id}?expand[]=product``)
and cached; a price Stripe no longer has falls back to the payload embedded in a legacy line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from tap_stripe_billing.records import PriceInfo, price_info_from_payload


class PriceSource(Protocol):
    """What the cache needs from the Stripe client."""

    def get(
        self, path: str, params: Any = (), *, missing_ok: bool = False
    ) -> dict[str, Any] | None: ...  # pragma: no cover

    def list_all(self, path: str, params: Any = ()) -> Any: ...  # pragma: no cover


class PriceCache:
    """Price id → PriceInfo for one run (used from one thread)."""

    def __init__(self, api: PriceSource) -> None:
        self._api = api
        self._prices: dict[str, PriceInfo | None] = {}
        self._walked = False
        self.single_fetches = 0

    def warm(self) -> None:
        """Run the walk now (once)."""
        if self._walked:
            return
        for price in self._api.list_all("/v1/prices", [("limit", 100), ("expand[]", "data.product")]):
            self._prices[str(price["id"])] = price_info_from_payload(price)
        self._walked = True

    def lookup(self, price_id: str, embedded: Mapping[str, Any] | None = None) -> PriceInfo | None:
        """Info for a price id: the walk, else one fetch, else the embedded payload."""
        self.warm()
        if price_id not in self._prices:
            self.single_fetches += 1
            body = self._api.get(f"/v1/prices/{price_id}", [("expand[]", "product")], missing_ok=True)
            self._prices[price_id] = price_info_from_payload(body) if body else None
        info = self._prices[price_id]
        if info is None and embedded is not None:
            return price_info_from_payload(embedded)
        return info
