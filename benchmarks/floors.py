"""The CPU floors the plugins are measured against (``bench_end_to_end.py``), each run as its own process.

    python -m benchmarks.floors reader STRIPE_URL API_KEY
    python -m benchmarks.floors sender KISSMETRICS_URL KM_KEY RECORDS_FILE

- ``reader``: the minimum the tap's backfill must do: page every paid invoice (customers expanded, as the
  tap asks) with the tap's own Stripe client (``StripeAPI``: the ``stripe`` library parses each page's
  JSON), one page at a time, building no records. Prints the invoices read.
- ``sender``: the minimum the target must do: read the tap's Singer lines, parse each, and send one
  ``GET /e`` per RECORD with the target's HTTP client (a keep-alive urllib3 pool), one at a time; no
  validation, journal or mapping. Prints the requests sent.
"""

from __future__ import annotations

import json
import sys
from urllib.parse import urlencode

import urllib3
from tap_stripe_billing.client import StripeAPI, list_params


def reader(url: str, api_key: str) -> int:
    api = StripeAPI(api_key, url, max_requests_per_second=1000, max_requests_per_second_per_endpoint=1000)
    params = [("status", "paid"), *list_params(), ("expand[]", "data.customer")]
    return sum(len(page) for page in api.list_pages("/v1/invoices", params))


def sender(url: str, key: str, path: str) -> int:
    pool = urllib3.connection_from_url(url, maxsize=1, retries=False)
    sent = 0
    with open(path, "rb") as lines:
        for line in lines:
            message = json.loads(line)
            if message.get("type") != "RECORD":
                continue
            record = message["record"]
            query = urlencode(
                {
                    "_k": key,
                    "_p": record.get("customer_email") or record.get("customer_id") or "",
                    "_n": message["stream"],
                }
            )
            response = pool.urlopen("GET", f"/e?{query}", preload_content=True)
            if response.status >= 400:
                raise SystemExit(f"floor sender: HTTP {response.status}")
            sent += 1
    return sent


def main() -> None:
    kind, *args = sys.argv[1:]
    count = reader(*args) if kind == "reader" else sender(*args)
    print(count)


if __name__ == "__main__":
    main()
