"""Who a record is about: the ``_p`` KISSmetrics files the event under."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from target_kissmetrics.errors import SkipRecord
from target_kissmetrics.mapping import EventMapping
from target_kissmetrics.validation import MAX_VALUE_CHARS, has_forbidden_identity_chars


def resolve_identity(
    record: Mapping[str, Any], mapping: EventMapping, *, lowercase: bool, use_fallback: bool
) -> str:
    """The trimmed (by default lower-cased) email, else the fallback field when allowed.

    A value without ``@`` is not an email and is refused (it would file the revenue, for good, under a
    person nobody can find). An email with ``,`` or ``:`` is refused rather than rewritten: KISSmetrics
    would turn those into spaces and file the events under a person who does not exist. It does not fall
    back to the customer id either, which would split one person in two.
    """
    raw = record.get(mapping.identity_field)
    email = raw.strip() if isinstance(raw, str) else ""
    if email:
        if has_forbidden_identity_chars(email):
            raise SkipRecord("invalid_identity", f"{mapping.identity_field} contains ',' or ':'")
        if len(email) > MAX_VALUE_CHARS:
            raise SkipRecord("invalid_identity", f"{mapping.identity_field} is too long")
        if "@" not in email:
            raise SkipRecord("invalid_identity", f"{mapping.identity_field} is not an email address")
        return email.lower() if lowercase else email
    if use_fallback and mapping.fallback_identity_field:
        fallback = record.get(mapping.fallback_identity_field)
        text = str(fallback).strip() if fallback is not None and not isinstance(fallback, bool) else ""
        if text:
            if has_forbidden_identity_chars(text) or len(text) > MAX_VALUE_CHARS:
                raise SkipRecord("invalid_identity", f"{mapping.fallback_identity_field} is unusable")
            return text
    raise SkipRecord("no_identity", f"no {mapping.identity_field}")
