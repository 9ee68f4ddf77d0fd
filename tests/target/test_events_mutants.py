"""Event building pinned where mutation testing (scripts/mutation.sh events) found it loose.

Pure and fast: ``EventBuilder`` on small mappings, no HTTP.
"""

from __future__ import annotations

from typing import Any

import pytest
from target_kissmetrics.errors import SkipRecord
from target_kissmetrics.events import EventBuilder, record_key
from target_kissmetrics.mapping import EventMapping, PropertySpec

PROPS = (
    PropertySpec("A Note", "note"),
    PropertySpec("B Length", "length", "length"),
    PropertySpec("C Path", "path"),
)
MAPPING = EventMapping(
    stream="orders",
    timestamp_field="at",
    properties=PROPS,
    event_name_field="kind",
    event_names={"new": "Order Placed", "None": "Null Order"},
    key_fields=("order_id", "line"),
)
AMOUNTS = EventMapping(
    stream="payments",
    timestamp_field="at",
    properties=(PropertySpec("Paid", "amount", "amount"),),
    event_name="Paid",
    key_fields=("id",),
)


def _builder(mapping: EventMapping = MAPPING) -> EventBuilder:
    return EventBuilder(mapping, lowercase_identity=True, use_fallback=False)


def _record(**fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "order_id": "o1",
        "line": 2,
        "kind": "new",
        "at": "2024-03-01T12:00:00Z",
        "customer_email": "a@example.com",
    }
    record.update(fields)
    return record


def _skip(builder: EventBuilder, record: dict[str, Any]) -> SkipRecord:
    with pytest.raises(SkipRecord) as caught:
        builder.build(record)
    return caught.value


def test_record_key_joins_fields_and_marks_missing_ones() -> None:
    assert record_key({"a": "x", "b": 3}, ("a", "b")) == "x|3"
    assert record_key({"a": "x"}, ("a", "b")) == "x|?"
    assert _builder().build(_record(line=None)).key == "o1|?"


def test_built_event_carries_its_key_and_every_present_property_encoded() -> None:
    built = _builder().build(_record(note=None, length=3, path="a/b c"))
    assert built.key == "o1|2"
    assert built.query == (
        "_p=a%40example.com&_n=Order%20Placed&_t=1709294400&_d=1&B%20Length=3&C%20Path=a%2Fb%20c"
    )


def test_a_missing_event_field_is_no_event_even_if_a_value_reads_none() -> None:
    skip = _skip(_builder(), _record(kind=None))
    assert (skip.reason, skip.detail) == ("unmapped_event_value", "kind has no event name")


def test_skip_details_name_the_field() -> None:
    assert _skip(_builder(), _record(at=None)).detail == "no at"
    assert _skip(_builder(), _record(at="not a time")).detail == "at is not a date-time"
    early = _skip(_builder(), _record(at="2008-12-31T23:59:59Z"))
    assert (early.reason, early.detail) == ("timestamp_before_2009", "at is before 2009-01-01")
    bad_length = _skip(_builder(), _record(length="abc"))
    assert (bad_length.reason, bad_length.detail) == ("non_numeric_value", "length is not a number")
    too_long = _skip(_builder(), _record(note="x" * 513))
    assert (too_long.reason, too_long.detail) == ("value_too_long", "A Note has 513 characters (limit 512)")
    no_currency = _skip(
        _builder(AMOUNTS), {"id": "p", "at": "2024-03-01T12:00:00Z", "amount": 5, "customer_email": "a@b.c"}
    )
    assert (no_currency.reason, no_currency.detail) == ("missing_currency", "no currency for an amount")
    bad_amount = _skip(
        _builder(AMOUNTS),
        {
            "id": "p",
            "at": "2024-03-01T12:00:00Z",
            "amount": "x",
            "currency": "usd",
            "customer_email": "a@b.c",
        },
    )
    assert (bad_amount.reason, bad_amount.detail) == ("non_numeric_amount", "amount is not a number")


def test_the_first_second_of_2009_is_accepted() -> None:
    built = _builder().build(_record(at="2009-01-01T00:00:00Z"))
    assert "&_t=1230768000&" in built.query
