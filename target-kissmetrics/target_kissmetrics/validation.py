"""KISSmetrics' limits, checked locally because the service answers 200 to anything.

Two kinds of failure, decided by whose fault it is:

* **Fatal (ConfigError)**, the configuration is wrong and every record would be wrong the same way:
  a property named ``_k``/``_p``/``_n``/``_t``/``_d``, a property or event name of 255 characters or
  more, an empty name, ``,`` or ``:`` in a configured event name.
* **Skip (SkipRecord)**, one record carries bad data: no usable identity, an identity with ``,``/``:``,
  a missing or unparsable time, a time before 2009-01-01, a value over 512 characters, a non-numeric
  amount, an amount without a currency, an event-name field value with no event name. The record is
  not sent, the run goes on, and the summary names the record key under the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from target_kissmetrics.errors import ConfigError
from target_kissmetrics.mapping import EventMapping

RESERVED_NAMES = frozenset({"_k", "_p", "_n", "_t", "_d"})
MAX_NAME_CHARS = 255  # names must be shorter
MAX_VALUE_CHARS = 512  # values may be this long, not longer
EARLIEST_UNIX_SECONDS = 1230768000  # 2009-01-01T00:00:00Z: KISSmetrics stores nothing older


def has_forbidden_identity_chars(value: str) -> bool:
    return "," in value or ":" in value


def check_mapping(mapping: EventMapping) -> None:
    """Fatal checks of one mapping against KISSmetrics' rules."""
    where = f"event_mappings.{mapping.stream}"
    for name in mapping.all_event_names():
        if not name.strip():
            raise ConfigError(f"{where}: an event name is empty")
        if has_forbidden_identity_chars(name):
            raise ConfigError(f"{where}: event name {name!r} contains ',' or ':' (KISSmetrics mangles them)")
        if len(name) >= MAX_NAME_CHARS:
            raise ConfigError(f"{where}: an event name has {len(name)} characters (limit 254)")
    for prop in mapping.properties:
        if prop.name in RESERVED_NAMES:
            raise ConfigError(f"{where}: property name {prop.name!r} is reserved by KISSmetrics")
        if not prop.name.strip():
            raise ConfigError(f"{where}: a property name is empty")
        if len(prop.name) >= MAX_NAME_CHARS:
            raise ConfigError(f"{where}: a property name has {len(prop.name)} characters (limit 254)")


def check_key_fields(mapping: EventMapping) -> None:
    """Fatal: the journal and the summary need a record key."""
    if not mapping.key_fields:
        raise ConfigError(
            f"event_mappings.{mapping.stream}: no key_fields and the stream has no key properties; "
            "the delivery journal needs a record key"
        )


def fields_used(mapping: EventMapping) -> list[tuple[str, str]]:
    """(field, what uses it) for every record field the mapping cannot do without."""
    used = [(mapping.timestamp_field, "timestamp_field"), (mapping.identity_field, "identity_field")]
    if mapping.event_name_field:
        used.append((mapping.event_name_field, "event_name_field"))
    used.extend((name, "key_fields") for name in mapping.key_fields)
    if any(p.format in ("amount", "negative_amount") for p in mapping.properties):
        used.append((mapping.currency_field, "currency_field"))
    used.extend((p.field, f"property {p.name!r}") for p in mapping.properties if not p.optional)
    return used


def check_against_schema(mapping: EventMapping, schema: Mapping[str, Any]) -> None:
    """Fatal, when a stream's SCHEMA arrives: every field the mapping needs is one of its properties.

    Without this a misspelt identity field skips every record as "no identity" (and the bookmark moves
    on), and a misspelt property field leaves that property out of every event, for good. The fallback
    identity field and properties marked ``optional`` may be missing. A schema that lists no properties
    at all cannot be checked.
    """
    properties = schema.get("properties")
    if not isinstance(properties, Mapping) or not properties:
        return
    for name, role in fields_used(mapping):
        if name not in properties:
            known = ", ".join(sorted(properties))
            if len(known) > 300:
                known = known[:300] + "..."
            raise ConfigError(
                f"event_mappings.{mapping.stream}: {role} names field {name!r}, which the stream's schema "
                f"does not have (fields: {known}); fix the mapping"
            )
