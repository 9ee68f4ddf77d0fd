"""Why the tap reads Stripe with ``raw_request``: plain JSON dicts against the typed StripeObject tree.

Prints seconds per 100-invoice page for both, and the ratio, against a local stand-in serving the same
page (Stripe's example invoice from ``stripe-fixtures/``, 100 times). Run:
``.venv/bin/python -m benchmarks.bench_stripe_parsing``.
"""

from __future__ import annotations

import json
import time
from typing import Any, ClassVar

from tap_stripe_billing.client import StripeAPI

from stand_ins.common import StandInHandler, StandInServer
from stand_ins.processes import REPO_ROOT

KEY = "sk_live_51BenchParsingKeyABCDEFGH12"
PAGES = 30


class _OnePage(StandInHandler):
    page: ClassVar[dict[str, Any]] = {}

    def do_GET(self) -> None:
        self.send_json(200, self.page)


def _example_invoice(invoice_id: str) -> dict[str, Any]:
    """Stripe's own example invoice (stripe-fixtures/fixtures.json), with its own id."""
    resources = json.loads((REPO_ROOT / "stripe-fixtures" / "fixtures.json").read_text())["resources"]
    return {**resources["invoice"], "id": invoice_id}


def main() -> None:
    _OnePage.page = {
        "object": "list",
        "data": [_example_invoice(f"in_{i}") for i in range(100)],
        "has_more": False,
        "url": "/v1/invoices",
    }
    with StandInServer(_OnePage) as server:
        api = StripeAPI(
            KEY, server.url, max_requests_per_second=100_000, backoff_base=0.5
        )  # measure parsing, not the limiter
        start = time.perf_counter()
        for _ in range(PAGES):
            api.get("/v1/invoices", [("limit", 100)])
        raw = (time.perf_counter() - start) / PAGES
        start = time.perf_counter()
        for _ in range(PAGES):
            listed = api._client.v1.invoices.list({"limit": 100})
            [invoice["id"] for invoice in listed.data]
        typed = (time.perf_counter() - start) / PAGES
    print(json.dumps({"raw_request_s_per_page": round(raw, 5), "typed_list_s_per_page": round(typed, 5)}))
    print(f"typed StripeObjects cost {typed / raw:.1f}x raw JSON per page (baseline: typed list)")


if __name__ == "__main__":
    main()
