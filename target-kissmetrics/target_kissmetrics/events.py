"""Records to KISSmetrics event requests: canonical, byte-identical for the same record.

A built request is the query string *without* the key: ``_p=…&_n=…&_t=…&_d=1&Prop=…`` with properties
sorted by name, every name and value UTF-8 percent-encoded with nothing left safe. The transport puts
``_k`` in front when it sends it, so the journal never stores the key and a rotated key still works.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from target_kissmetrics.errors import SkipRecord
from target_kissmetrics.formatting import format_amount, format_length, format_text, to_unix_seconds
from target_kissmetrics.identity import resolve_identity
from target_kissmetrics.mapping import EventMapping, PropertySpec
from target_kissmetrics.validation import (
    EARLIEST_UNIX_SECONDS,
    MAX_VALUE_CHARS,
    check_mapping,
)


@dataclass(frozen=True)
class BuiltEvent:
    """One record ready to send: its key (for the journal) and its request (query string, no key)."""

    key: str
    query: str


def _enc(text: str) -> str:
    return quote(text, safe="", encoding="utf-8")


def record_key(record: Mapping[str, Any], key_fields: tuple[str, ...]) -> str:
    """The record key as text: the key fields' values joined with ``|`` (``?`` when one is missing)."""
    parts = []
    for name in key_fields:
        value = record.get(name)
        parts.append("?" if value is None else format_text(value))
    return "|".join(parts)


class EventBuilder:
    """Builds requests for one stream's records."""

    def __init__(self, mapping: EventMapping, *, lowercase_identity: bool, use_fallback: bool) -> None:
        check_mapping(mapping)
        self.mapping = mapping
        self.lowercase_identity = lowercase_identity
        self.use_fallback = use_fallback
        self._encoded_names = {name: _enc(name) for name in mapping.all_event_names()}
        self._properties: list[tuple[PropertySpec, str]] = [
            (spec, _enc(spec.name) + "=") for spec in mapping.properties
        ]
        formatters: dict[str, Callable[[Any, Mapping[str, Any]], str]] = {
            "string": lambda value, record: format_text(value),
            "upper": lambda value, record: format_text(value).strip().upper(),
            "length": lambda value, record: format_length(value),
            "amount": lambda value, record: format_amount(value, self._currency(record)),
            "negative_amount": lambda value, record: format_amount(
                value, self._currency(record), negate=True
            ),
        }
        self._formatters = formatters

    def _currency(self, record: Mapping[str, Any]) -> str:
        currency = record.get(self.mapping.currency_field)
        if not isinstance(currency, str) or not currency.strip():
            raise SkipRecord("missing_currency", f"no {self.mapping.currency_field} for an amount")
        return currency

    def key_of(self, record: Mapping[str, Any]) -> str:
        return record_key(record, self.mapping.key_fields)

    def event_name(self, record: Mapping[str, Any]) -> str:
        mapping = self.mapping
        if mapping.event_name is not None:
            return mapping.event_name
        value = record.get(str(mapping.event_name_field))
        name = mapping.event_names.get(format_text(value)) if value is not None else None
        if name is None:
            raise SkipRecord("unmapped_event_value", f"{mapping.event_name_field} has no event name")
        return name

    def timestamp(self, record: Mapping[str, Any]) -> int:
        field = self.mapping.timestamp_field
        value = record.get(field)
        if value is None:
            raise SkipRecord("missing_timestamp", f"no {field}")
        try:
            seconds = to_unix_seconds(value)
        except ValueError:
            raise SkipRecord("invalid_timestamp", f"{field} is not a date-time") from None
        if seconds < EARLIEST_UNIX_SECONDS:
            raise SkipRecord("timestamp_before_2009", f"{field} is before 2009-01-01")
        return seconds

    def build(self, record: Mapping[str, Any]) -> BuiltEvent:
        """The request for a record, or SkipRecord naming why it cannot be sent."""
        key = self.key_of(record)
        name = self.event_name(record)
        seconds = self.timestamp(record)
        person = resolve_identity(
            record, self.mapping, lowercase=self.lowercase_identity, use_fallback=self.use_fallback
        )
        parts = [f"_p={_enc(person)}", f"_n={self._encoded_names[name]}", f"_t={seconds}", "_d=1"]
        for spec, encoded_name in self._properties:
            value = record.get(spec.field)
            if value is None:
                continue
            if spec.format == "test_mode":  # only a test-mode record gets the property
                if value is not False:
                    continue
                parts.append(encoded_name + "test")
                continue
            try:
                text = self._formatters[spec.format](value, record)
            except ValueError:
                reason = "non_numeric_amount" if spec.format.endswith("amount") else "non_numeric_value"
                raise SkipRecord(reason, f"{spec.field} is not a number") from None
            if len(text) > MAX_VALUE_CHARS:
                raise SkipRecord("value_too_long", f"{spec.name} has {len(text)} characters (limit 512)")
            parts.append(encoded_name + _enc(text))
        return BuiltEvent(key=key, query="&".join(parts))
