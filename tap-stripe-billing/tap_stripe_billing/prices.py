"""Price information from one cached walk of ``GET /v1/prices?limit=100&expand[]=data.product`` (and
``expand[]=data.tiers``: Stripe returns a tiered price's tiers only when expanded).

The walk lists active and inactive prices (Stripe's default when ``active`` is not given) with their
products expanded, so plan levels fall back to the product's name without a request per product. It
is loaded on first use: a run with nothing to emit makes no price request (a backfill starts it in a
thread at once, to overlap it with reading invoices). A run that knows it needs fewer distinct prices
than the walk has pages fetches each singly instead. A price missing from the
walk (created since, or a legacy Plan id) is fetched singly (``GET /v1/prices/{id}?expand[]=product``)
and cached; a price Stripe no longer has falls back to the payload embedded in a legacy line.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol

from tap_stripe_billing.client import list_params
from tap_stripe_billing.payload_versions import object_path
from tap_stripe_billing.records import PriceInfo, price_info_from_payload


class PriceSource(Protocol):
    """What the cache needs from the Stripe client."""

    def get(
        self, path: str, params: Any = (), *, missing_ok: bool = False
    ) -> dict[str, Any] | None: ...  # pragma: no cover

    def list_all(self, path: str, params: Any = ()) -> Any: ...  # pragma: no cover


class PriceCache:
    """Price id → PriceInfo for one run (looked up from one thread; the walk may run in another).

    ``single_only``: the run knows it needs fewer distinct prices than the walk has pages (the walk's
    page count is kept in state), so each is fetched singly and the walk is skipped.
    """

    def __init__(self, api: PriceSource, *, single_only: bool = False) -> None:
        self._api = api
        self._prices: dict[str, PriceInfo | None] = {}
        self._walked = single_only
        self._walking: threading.Thread | None = None
        self._walk_error: BaseException | None = None
        self.walk_pages: int | None = None  # pages of this run's walk (None: no walk)

    def _walk(self) -> None:
        found: dict[str, PriceInfo | None] = {}
        count = 0
        params = [*list_params(), ("expand[]", "data.product"), ("expand[]", "data.tiers")]
        for price in self._api.list_all("/v1/prices", params):
            found[str(price["id"])] = price_info_from_payload(price)
            count += 1
        self._prices.update(found)
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
        """Info for a price id: the walk, else one fetch, else the embedded payload."""
        self.warm()
        if price_id not in self._prices:
            path = object_path("prices", price_id)  # legacy plan ids may hold "/", spaces, "#"
            body = self._api.get(path, [("expand[]", "product"), ("expand[]", "tiers")], missing_ok=True)
            self._prices[price_id] = price_info_from_payload(body) if body else None
        info = self._prices[price_id]
        if info is None and embedded is not None:
            return price_info_from_payload(embedded)
        return info
