"""Every field the stand-in renders in the pinned API version exists on stripe-python 16.1.0's resource
types (``stripe.Invoice``'s annotations, its nested classes such as ``Invoice.StatusTransitions``…)."""

from __future__ import annotations

from typing import Any, get_args

import pytest
import stripe
from stripe._object_classes import get_object_class

from stand_ins.stripe import Account, AccountConfig, generate_account
from stand_ins.stripe.render import event as render_event
from stand_ins.stripe.render import render
from stand_ins.stripe.versions import CURRENT_API_VERSION


def fields(cls: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if isinstance(klass, type) and issubclass(klass, stripe.StripeObject):
            out.update(getattr(klass, "__annotations__", {}))
    return out


def nested_class(annotation: Any) -> type | None:
    """The StripeObject class an annotation names (through Optional, List…), if any."""
    if isinstance(annotation, type) and issubclass(annotation, stripe.StripeObject):
        return annotation
    for arg in get_args(annotation):
        found = nested_class(arg)
        if found is not None:
            return found
    return None


def walk(value: Any, cls: type | None, path: str, problems: list[str]) -> None:
    if isinstance(value, list):
        for item in value:
            walk(item, cls, f"{path}[]", problems)
        return
    if not isinstance(value, dict):
        return
    kind = value.get("object")
    if kind == "list":
        for item in value.get("data") or []:
            walk(item, None, f"{path}.data[]", problems)
        return
    if isinstance(kind, str):
        cls = get_object_class("V1", kind)
        if cls is None:
            problems.append(f"{path}: no SDK class for object {kind!r}")
            return
    if cls is None:
        return
    known = fields(cls)
    for key, child in value.items():
        if key not in known:
            problems.append(f"{path}.{key} (not on {cls.__qualname__})")
        elif key != "metadata":
            walk(child, nested_class(known[key]), f"{path}.{key}", problems)


@pytest.fixture(scope="module")
def account() -> Account:
    return generate_account(AccountConfig(seed=8, invoices=500, history_days=60, refund_share=0.2))


def test_walk_finds_a_field_the_sdk_does_not_have() -> None:
    problems: list[str] = []
    walk(
        {"object": "invoice", "id": "in_1", "status_transitions": {"paid_at": 1, "paid": 2}},
        None,
        "x",
        problems,
    )
    assert problems == ["x.status_transitions.paid (not on Invoice.StatusTransitions)"]


@pytest.mark.parametrize(
    "kind",
    ["invoice", "subscription", "refund", "credit_note", "invoice_payment", "price", "product", "customer"],
)
def test_pinned_objects_have_only_sdk_fields(account: Account, kind: str) -> None:
    problems: list[str] = []
    objs = account.by_kind[kind]
    assert objs
    for obj in objs:
        walk(render(kind, obj, account.now), None, kind, problems)
    assert sorted(set(problems)) == []


def test_pinned_events_have_only_sdk_fields(account: Account) -> None:
    problems: list[str] = []
    for ev in account.events:
        rendered = render_event(ev, CURRENT_API_VERSION)
        walk(rendered, None, ev.type, problems)
        kind_cls = get_object_class("V1", rendered["data"]["object"]["object"])
        walk(rendered["data"].get("previous_attributes") or {}, kind_cls, f"{ev.type}.previous", problems)
    assert sorted(set(problems)) == []
