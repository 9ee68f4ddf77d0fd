"""Event mappings: which KISSmetrics event, identity, time and properties a stream's records become.

Built-in mappings cover the four streams of ``tap-stripe-billing``. The ``event_mappings`` setting adds
mappings for other streams, or changes a built-in one. How an entry merges with the built-in entry of
the same stream:

- every key but ``properties`` and ``remove_properties`` replaces the built-in value (so
  ``{"subscription_billed": {"identity_field": "billing_email"}}`` changes only the identity; giving
  ``event_name`` drops a built-in ``event_name_field``/``event_names`` and the other way round);
- ``properties`` is merged property by property: a name the built-in entry has is replaced, a new name
  is added, every other built-in property stays;
- ``remove_properties`` (a list of property names) removes built-in properties; naming one the merged
  mapping does not have is an error.

(Earlier versions let a ``properties`` object replace the built-in properties as a whole.)

Every field a mapping names must be in the stream's SCHEMA when it arrives, or the run stops with one
line before any record is read; only ``fallback_identity_field`` and properties marked ``optional`` may
name a field the schema lacks.

A mapping entry (all names are record fields unless said otherwise)::

    event_name               KISSmetrics event name (``_n``) for every record of the stream, or
    event_name_field         a field whose value picks the event name, with
    event_names              {field value: event name}; a record with another value is skipped
    identity_field           the person (``_p``): an email, trimmed (and lower-cased by default)
    fallback_identity_field  used when the identity is empty and ``identity_fallback`` is ``customer_id``
    timestamp_field          the event time (``_t``): a date-time or unix seconds; required, never the clock
    key_fields               the record key: journal key and the name of a skipped record in the summary
                             (default: the stream's key properties)
    currency_field           the ISO currency of ``amount`` properties (default ``currency``)
    properties               {KISSmetrics property name: field} or
                             {name: {"field": f, "format": fmt, "optional": true|false}}
    remove_properties        [built-in property names to leave out]

Formats: ``string`` (default, as written), ``amount`` (exactly the currency's decimals),
``negative_amount`` (the same, negated: refunds), ``length`` (a number without trailing zeros),
``upper`` (trimmed, upper-case), ``test_mode`` (``test`` when the field is false, e.g. ``livemode``;
the property is left out when it is true). A property whose field is null or missing in a record is
left out of the event.

Every built-in mapping carries ``Stripe Mode`` (``livemode``, ``test_mode``, optional): events from a
test-mode Stripe key say ``Stripe Mode=test``; live events carry no such property, so their requests are
byte-identical to those of earlier versions.

Example for a different tap, a hypothetical ``tap-shopify`` ``orders`` stream::

    event_mappings:
      orders:
        event_name: Purchased
        identity_field: email
        fallback_identity_field: customer_id
        timestamp_field: processed_at
        key_fields: [id]
        currency_field: currency
        properties:
          Purchase Amount: {field: total_price, format: amount}
          Order Name: name
          Currency: {field: currency, format: upper}
      refunds:
        event_name_field: kind
        event_names: {refund: Refunded, void: Order Voided}
        identity_field: email
        timestamp_field: created_at
        key_fields: [id]
        properties:
          Billing Amount: {field: amount, format: negative_amount}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from target_kissmetrics.errors import ConfigError

FORMATS = ("string", "amount", "negative_amount", "length", "upper", "test_mode")


@dataclass(frozen=True)
class PropertySpec:
    """One KISSmetrics property: its name, the record field it comes from, and how it is written."""

    name: str
    field: str
    format: str = "string"
    optional: bool = False  # the field may be missing from the stream's schema


@dataclass(frozen=True)
class EventMapping:
    """How one stream's records become KISSmetrics events."""

    stream: str
    timestamp_field: str
    properties: tuple[PropertySpec, ...]
    event_name: str | None = None
    event_name_field: str | None = None
    event_names: Mapping[str, str] = field(default_factory=dict)
    identity_field: str = "customer_email"
    fallback_identity_field: str | None = "customer_id"
    key_fields: tuple[str, ...] = ()
    currency_field: str = "currency"

    def all_event_names(self) -> list[str]:
        return [self.event_name] if self.event_name else list(self.event_names.values())


# Test-mode events are marked; live ones carry nothing extra (their bytes stay as they were).
STRIPE_MODE = {"field": "livemode", "format": "test_mode", "optional": True}
CURRENCY = {"field": "currency", "format": "upper"}
# What an event about a plan says of it: the recurring amount, the billing length and the level.
PLAN_PROPERTIES: dict[str, Any] = {
    "Subscription Billing Amount": {"field": "amount", "format": "amount"},
    "Subscription Billing Length": {"field": "billing_length_months", "format": "length"},
    "Subscription Plan Level": "plan_level",
}


def _built_in(
    timestamp_field: str, key_field: str, properties: dict[str, Any], **names: Any
) -> dict[str, Any]:
    """One built-in mapping: keyed by one field, every event marked with its Stripe mode."""
    return {
        **names,
        "timestamp_field": timestamp_field,
        "key_fields": [key_field],
        "properties": {**properties, "Stripe Mode": STRIPE_MODE},
    }


# The built-in mappings, in the same shape as the ``event_mappings`` setting.
DEFAULT_MAPPINGS: dict[str, dict[str, Any]] = {
    "subscription_billed": _built_in(
        "paid_at",
        "invoice_id",
        {
            **PLAN_PROPERTIES,
            "Billing Amount": {"field": "amount", "format": "amount"},
            "Subscription Billing Currency": CURRENCY,
            "Stripe Invoice ID": "invoice_id",
        },
        event_name="Subscription Billed",
    ),
    "subscription_changed": _built_in(
        "changed_at",
        "change_id",
        {**PLAN_PROPERTIES, "Stripe Subscription ID": "subscription_id"},
        event_name_field="direction",
        event_names={"upgraded": "Subscription Upgraded", "downgraded": "Subscription Downgraded"},
    ),
    "subscription_canceled": _built_in(
        "canceled_at",
        "subscription_id",
        {
            "Subscription Cancelation Reason": "cancelation_reason",
            "Stripe Subscription ID": "subscription_id",
        },
        event_name="Subscription Canceled",
    ),
    "subscription_refunded": _built_in(
        "refunded_at",
        "refund_id",
        {
            "Billing Amount": {"field": "amount", "format": "negative_amount"},
            "Subscription Billing Amount": {"field": "amount", "format": "negative_amount"},
            "Subscription Billing Currency": CURRENCY,
            "Subscription Refund Reason": "reason",
            "Stripe Invoice ID": "invoice_id",
            "Stripe Refund ID": "refund_id",
        },
        event_name="Refunded",
    ),
}

_KNOWN_KEYS = {
    "event_name",
    "event_name_field",
    "event_names",
    "identity_field",
    "fallback_identity_field",
    "timestamp_field",
    "key_fields",
    "currency_field",
    "properties",
    "remove_properties",
}


def _reject_unknown_keys(stream: str, entry: Mapping[str, Any]) -> None:
    unknown = set(entry) - _KNOWN_KEYS
    if unknown:
        raise ConfigError(f"event_mappings.{stream} has unknown keys: {', '.join(sorted(unknown))}")


def _text(stream: str, name: str, value: object, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"event_mappings.{stream}.{name} must be a non-empty string")
    return value


def _property(stream: str, name: str, spec: object) -> PropertySpec:
    if isinstance(spec, str):
        return PropertySpec(name=name, field=spec)
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"field", "format", "optional"}
        if unknown:
            raise ConfigError(
                f"event_mappings.{stream}.properties.{name} has unknown keys: {', '.join(sorted(unknown))}"
            )
        source = _text(stream, f"properties.{name}.field", spec.get("field"))
        fmt = spec.get("format", "string")
        if fmt not in FORMATS:
            raise ConfigError(
                f"event_mappings.{stream}.properties.{name}.format must be one of {', '.join(FORMATS)}"
            )
        optional = spec.get("optional", False)
        if not isinstance(optional, bool):
            raise ConfigError(f"event_mappings.{stream}.properties.{name}.optional must be true or false")
        return PropertySpec(name=name, field=str(source), format=str(fmt), optional=optional)
    raise ConfigError(f"event_mappings.{stream}.properties.{name} must be a field name or an object")


def parse_mapping(stream: str, entry: Mapping[str, Any]) -> EventMapping:
    """One mapping from its settings shape; ConfigError for anything malformed."""
    _reject_unknown_keys(stream, entry)
    event_name = _text(stream, "event_name", entry.get("event_name"), optional=True)
    name_field = _text(stream, "event_name_field", entry.get("event_name_field"), optional=True)
    names = entry.get("event_names") or {}
    if (event_name is None) == (name_field is None):
        raise ConfigError(f"event_mappings.{stream} needs exactly one of event_name or event_name_field")
    if name_field is not None and (not isinstance(names, Mapping) or not names):
        raise ConfigError(f"event_mappings.{stream}.event_names must map {name_field} values to names")
    props = entry.get("properties") or {}
    if not isinstance(props, Mapping):
        raise ConfigError(f"event_mappings.{stream}.properties must be an object")
    key_fields = entry.get("key_fields") or []
    if isinstance(key_fields, str):
        key_fields = [key_fields]
    return EventMapping(
        stream=stream,
        timestamp_field=str(_text(stream, "timestamp_field", entry.get("timestamp_field"))),
        properties=tuple(sorted((_property(stream, n, s) for n, s in props.items()), key=lambda p: p.name)),
        event_name=event_name,
        event_name_field=name_field,
        event_names={str(k): str(v) for k, v in dict(names).items()},
        identity_field=str(_text(stream, "identity_field", entry.get("identity_field", "customer_email"))),
        fallback_identity_field=_text(
            stream, "fallback_identity_field", entry.get("fallback_identity_field"), optional=True
        ),
        key_fields=tuple(str(k) for k in key_fields),
        currency_field=str(_text(stream, "currency_field", entry.get("currency_field", "currency"))),
    )


def _merge(stream: str, base: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    """One configured entry laid over the built-in one (see the module docstring)."""
    merged = {**base, **{k: v for k, v in entry.items() if k not in ("properties", "remove_properties")}}
    if "event_name" in entry and "event_name_field" not in entry:
        merged.pop("event_name_field", None)
        merged.pop("event_names", None)
    if "event_name_field" in entry and "event_name" not in entry:
        merged.pop("event_name", None)
    added = entry.get("properties") or {}
    if not isinstance(added, Mapping):
        raise ConfigError(f"event_mappings.{stream}.properties must be an object")
    properties = {**dict(base.get("properties") or {}), **added}
    removed = entry.get("remove_properties") or []
    if isinstance(removed, str) or not isinstance(removed, list):
        raise ConfigError(f"event_mappings.{stream}.remove_properties must be a list of property names")
    for name in removed:
        if name not in properties:
            known = ", ".join(sorted(properties)) or "none"
            raise ConfigError(
                f"event_mappings.{stream}.remove_properties names {name!r}, which is not a property "
                f"of the mapping (properties: {known})"
            )
        del properties[name]
    merged["properties"] = properties
    return merged


def resolve_mappings(configured: Mapping[str, Any] | None) -> dict[str, EventMapping]:
    """Built-in mappings with the ``event_mappings`` setting merged into them."""
    merged: dict[str, dict[str, Any]] = {name: dict(entry) for name, entry in DEFAULT_MAPPINGS.items()}
    for default in merged.values():
        default.setdefault("fallback_identity_field", "customer_id")
    for stream, entry in (configured or {}).items():
        if not isinstance(entry, Mapping):
            raise ConfigError(f"event_mappings.{stream} must be an object")
        _reject_unknown_keys(stream, entry)
        merged[stream] = _merge(stream, merged.get(stream, {}), entry)
    return {stream: parse_mapping(stream, entry) for stream, entry in merged.items()}
