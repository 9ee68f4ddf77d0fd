"""Slim invoices: what a backfill keeps of each listed invoice while its page waits in the queue.

A listed invoice with its customer expanded is several kilobytes of Python objects, and a backfill
queues many pages of them: everything the record rules of ``records.py`` do not read is dropped first,
so the backfill's peak memory stays flat (``backfill.py``). Keep the key sets in step with what
``records.build_record`` and ``records.filter_reason`` read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# What ``build_record`` and ``filter_reason`` read of an invoice, a line and an expanded customer:
# everything else of a listed page is dropped before it is queued (``slim_invoice``).
_INVOICE_KEYS = frozenset(
    (
        "id", "object", "livemode", "status", "status_transitions", "amount_paid", "currency",
        "customer", "customer_email", "billing_reason", "parent", "subscription", "lines", "created",
    )
)  # fmt: skip
_LINE_KEYS = frozenset(
    (
        "id", "object", "amount", "currency", "period", "pricing", "price", "plan", "parent",
        "proration", "type", "subscription", "subscription_item", "quantity",
    )
)  # fmt: skip


def slim_invoice(invoice: Mapping[str, Any]) -> dict[str, Any]:
    """The invoice with only the keys the record rules read (a listed invoice with its customer expanded
    is several kilobytes of Python objects; a backfill queues many pages of them)."""
    slim = {key: value for key, value in invoice.items() if key in _INVOICE_KEYS}
    customer = slim.get("customer")
    if isinstance(customer, Mapping):
        slim["customer"] = {key: customer.get(key) for key in ("id", "object", "email")}
    lines = slim.get("lines")
    if isinstance(lines, Mapping):
        data = [
            {key: value for key, value in line.items() if key in _LINE_KEYS}
            for line in lines.get("data") or []
            if isinstance(line, Mapping)
        ]
        slim["lines"] = {"object": "list", "data": data, "has_more": bool(lines.get("has_more"))}
    return slim
