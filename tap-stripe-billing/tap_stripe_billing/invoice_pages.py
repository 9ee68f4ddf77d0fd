"""Old-version ``invoice.paid`` payloads completed from the invoice list, 100 a request, not one by one.

An account whose events carry an old API version's invoices (``payload_versions.py``) needs each paid
invoice in the pinned version. Fetching them one by one costs a request per invoice. The invoice list
(``GET /v1/invoices?status=paid&created[gte]=…&created[lte]=…``) renders the same objects in the same
pinned version (Stripe renders API responses in the request's ``Stripe-Version``; only an event's
``data.object`` keeps the version of its time), 100 a page, newest ``created`` first. Every old payload
still names its invoice's creation time (``created``, or ``date`` before 2019-03-14), so the invoices a
batch of events needs lie in a known ``created`` range.

The rule, exact by construction: a page only ever *replaces* a single fetch of an invoice it holds (same
object, same version, read the same way); whatever the pages did not find is fetched by id as before. A
paid invoice stays paid (``paid`` is a final status), so ``status=paid`` never hides one that was
wanted; if it did, the single fetch would still read it.

Cost is bounded: the pages of one batch never exceed half the single fetches they replace (after that,
the rest are fetched by id), and after each page the read jumps over ``created`` gaps holding no wanted
invoice (it restarts at the newest one still missing instead of paging through the gap).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, Protocol

from tap_stripe_billing.payload_versions import PayloadVersions

PAGE = 100  # Stripe's largest page


class Lister(Protocol):
    def get(
        self, path: str, params: Any = (), *, missing_ok: bool = False
    ) -> dict[str, Any] | None: ...  # pragma: no cover


def created_of(invoice: Mapping[str, Any]) -> int | None:
    """When the invoice was created: ``created``, or ``date`` in payloads before 2019-03-14."""
    value = invoice.get("created", invoice.get("date"))
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_pages(
    api: Lister, wanted: Mapping[str, int], counts: Counter[str], run: PayloadVersions
) -> dict[str, dict[str, Any]]:
    """The invoices of ``wanted`` (id → created) that paid-invoice pages hold, in the pinned version.

    Asked only for two or more invoices (one is cheaper fetched by id). Each page is counted as one
    request under ``invoices``, as a single fetch is."""
    pending = dict(wanted)
    found: dict[str, dict[str, Any]] = {}
    budget = len(pending) // 2
    cursor: str | None = None
    pages = 0
    while len(pending) >= 2 and pages < budget:
        params: list[tuple[str, Any]] = [
            ("status", "paid"),
            ("created[gte]", min(pending.values())),
            ("created[lte]", max(pending.values())),
            ("limit", PAGE),
        ]
        if cursor is not None:
            params.append(("starting_after", cursor))
        body = api.get("/v1/invoices", params) or {}
        pages += 1
        counts["invoices"] += 1
        run.fetched("invoices")
        data = [inv for inv in body.get("data") or [] if isinstance(inv, Mapping)]
        for invoice in data:
            invoice_id = str(invoice.get("id") or "")
            if invoice_id in pending:
                del pending[invoice_id]
                found[invoice_id] = dict(invoice)
        if not data or not body.get("has_more"):
            break  # the whole range is read: what is still missing is fetched by id
        last = created_of(data[-1])
        # Page on while a missing invoice may follow on the next page (created at or after the last one
        # listed); else restart at the newest missing one, skipping the gap in between.
        newest_missing = max(pending.values(), default=None)
        cursor = (
            str(data[-1].get("id"))
            if last is None or (newest_missing is not None and newest_missing >= last)
            else None
        )
    return found
