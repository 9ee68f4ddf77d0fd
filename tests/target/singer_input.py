"""Builders for Singer input used by the target tests: the four tap-stripe-billing streams."""

from __future__ import annotations

import json
from typing import Any

KEY = "KMSECRETCANARY123"

_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_NUM = {"type": ["number", "null"]}
_TIME = {"type": "string", "format": "date-time"}

SCHEMAS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "subscription_billed": (
        {
            "invoice_id": _STR,
            "paid_at": _TIME,
            "customer_id": _STR,
            "customer_email": _NSTR,
            "subscription_id": _STR,
            "amount": _NUM,
            "amount_minor": {"type": "integer"},
            "currency": _STR,
            "billing_length_months": _NUM,
            "plan_level": _NSTR,
            "billing_reason": _NSTR,
            "livemode": {"type": "boolean"},
        },
        ["invoice_id"],
    ),
    "subscription_changed": (
        {
            "change_id": _STR,
            "subscription_id": _STR,
            "customer_id": _STR,
            "customer_email": _NSTR,
            "changed_at": _TIME,
            "direction": _STR,
            "amount": _NUM,
            "currency": _STR,
            "billing_length_months": _NUM,
            "plan_level": _NSTR,
            "previous_plan_level": _NSTR,
            "mrr_before": _NUM,
            "mrr_after": _NUM,
        },
        ["change_id"],
    ),
    "subscription_canceled": (
        {
            "subscription_id": _STR,
            "customer_id": _STR,
            "customer_email": _NSTR,
            "canceled_at": _TIME,
            "cancelation_reason": _NSTR,
        },
        ["subscription_id"],
    ),
    "subscription_refunded": (
        {
            "refund_id": _STR,
            "invoice_id": _STR,
            "subscription_id": _STR,
            "customer_id": _STR,
            "customer_email": _NSTR,
            "refunded_at": _TIME,
            "amount": _NUM,
            "currency": _STR,
            "reason": _NSTR,
        },
        ["refund_id"],
    ),
}


def billed(invoice_id: str = "in_1", **over: Any) -> dict[str, Any]:
    record = {
        "invoice_id": invoice_id,
        "paid_at": "2024-03-01T12:00:00Z",
        "customer_id": "cus_1",
        "customer_email": "alice@example.com",
        "subscription_id": "sub_1",
        "amount": 49.9,
        "amount_minor": 4990,
        "currency": "usd",
        "billing_length_months": 1,
        "plan_level": "Pro",
        "billing_reason": "subscription_cycle",
        "livemode": True,
    }
    record.update(over)
    return record


def changed(change_id: str = "chg_1", **over: Any) -> dict[str, Any]:
    record = {
        "change_id": change_id,
        "subscription_id": "sub_1",
        "customer_id": "cus_1",
        "customer_email": "alice@example.com",
        "changed_at": "2024-04-01T00:00:00Z",
        "direction": "upgraded",
        "amount": 99,
        "currency": "usd",
        "billing_length_months": 1,
        "plan_level": "Business",
        "previous_plan_level": "Pro",
        "mrr_before": 49.9,
        "mrr_after": 99,
    }
    record.update(over)
    return record


def canceled(subscription_id: str = "sub_1", **over: Any) -> dict[str, Any]:
    record = {
        "subscription_id": subscription_id,
        "customer_id": "cus_1",
        "customer_email": "alice@example.com",
        "canceled_at": "2024-05-01T00:00:00Z",
        "cancelation_reason": "too_expensive",
    }
    record.update(over)
    return record


def refunded(refund_id: str = "re_1", **over: Any) -> dict[str, Any]:
    record = {
        "refund_id": refund_id,
        "invoice_id": "in_1",
        "subscription_id": "sub_1",
        "customer_id": "cus_1",
        "customer_email": "alice@example.com",
        "refunded_at": "2024-03-05T00:00:00Z",
        "amount": 49.9,
        "currency": "usd",
        "reason": "requested_by_customer",
    }
    record.update(over)
    return record


def singer_lines(records: list[tuple[str, dict[str, Any]]], state: dict[str, Any] | None = None) -> str:
    """SCHEMA for each stream used, the RECORDs in order, then one STATE (if given)."""
    lines: list[dict[str, Any]] = []
    seen: set[str] = set()
    for stream, record in records:
        if stream not in seen:
            seen.add(stream)
            properties, keys = SCHEMAS[stream]
            lines.append(
                {
                    "type": "SCHEMA",
                    "stream": stream,
                    "schema": {"type": "object", "properties": properties},
                    "key_properties": keys,
                }
            )
        lines.append({"type": "RECORD", "stream": stream, "record": record})
    if state is not None:
        lines.append({"type": "STATE", "value": state})
    return "".join(json.dumps(line) + "\n" for line in lines)
