"""The parts of Stripe's objects that several streams read: an event's object and its previous
attributes, and an invoice's every line (listed when the invoice embeds only the first page)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tap_stripe_billing import payload_versions
from tap_stripe_billing.client import StripeAPI, list_params


def event_object(event: Mapping[str, Any]) -> dict[str, Any]:
    """An event's ``data.object`` (empty when absent)."""
    return (event.get("data") or {}).get("object") or {}


def previous_attributes(event: Mapping[str, Any]) -> dict[str, Any]:
    """An event's ``data.previous_attributes`` (empty when absent)."""
    return (event.get("data") or {}).get("previous_attributes") or {}


def all_lines(api: StripeAPI, invoice: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every line of an invoice: the embedded ones, or (``lines.has_more``) the full lines list."""
    lines = invoice.get("lines") or {}
    if not lines.get("has_more"):
        return list(lines.get("data") or [])
    path = payload_versions.object_path("invoices", str(invoice["id"]), "/lines")
    return list(api.list_all(path, list_params()))
