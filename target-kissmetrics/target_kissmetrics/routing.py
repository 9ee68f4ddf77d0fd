"""Which KISSmetrics product (API key) each record's event goes to: ``account_api_keys``.

- Without ``account_api_keys`` every event goes under ``api_key``, as before: journal keys and stored
  requests are exactly what they were.
- With it, a record's ``account_id`` (the Stripe account it came from) picks the key. A record with no
  ``account_id`` goes under ``api_key`` (the default). A record whose account has no entry has no key:
  it is never sent under another account's key, and the run stops with one line naming the account
  (exit 1, no STATE past it, so nothing is lost: the next run, with the key added, delivers it). A
  fallback to ``api_key`` would put one account's revenue into another account's KISSmetrics product,
  which KISSmetrics cannot undo.
- A routed event's journal key is ``<record key>@<account>`` and its stored request is
  ``<account>\\n<query>`` (a built query is percent-encoded throughout, so it never holds a newline): a
  pending event re-sent by a later run goes to the same product, and the same record key in two products
  is two journal rows. The stored request holds the account id, never the key (the transport looks the key
  up when it sends, so a rotated key still works).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from target_kissmetrics.errors import ConfigError, TargetKissmetricsError
from target_kissmetrics.events import BuiltEvent

ACCOUNT_FIELD = "account_id"
ROUTE_SEPARATOR = "\n"
_ACCOUNT_ID = re.compile(r"^acct_[A-Za-z0-9]{1,64}$")


class NoKeyForAccount(TargetKissmetricsError):
    """A record of a Stripe account that ``account_api_keys`` has no key for: the run stops there."""


def parse_account_keys(value: object) -> dict[str, str]:
    """``account_api_keys``: an object ``acct_…`` → KISSmetrics key; ConfigError naming the first bad
    entry (by account, never echoing a key)."""
    if value is None or value == "":
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(
            "account_api_keys must be an object of Stripe account id (acct_...) -> KISSmetrics key"
        )
    keys: dict[str, str] = {}
    for account, key in value.items():
        name = str(account).strip()
        if not _ACCOUNT_ID.match(name):
            raise ConfigError(f"account_api_keys: {name[:40]!r} is not a Stripe account id (acct_...)")
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(f"account_api_keys: the key for {name} is empty")
        keys[name] = key.strip()
    return keys


class Routes:
    """The account → key table of a run."""

    def __init__(self, account_keys: Mapping[str, str]) -> None:
        self.account_keys = dict(account_keys)

    def route(self, record: Mapping[str, Any]) -> str:
        """The account whose key the record's event goes under; "" for ``api_key``."""
        if not self.account_keys:
            return ""
        account = record.get(ACCOUNT_FIELD)
        if account is None or account == "":
            return ""
        name = str(account)
        if name not in self.account_keys:
            raise NoKeyForAccount(
                f"no KISSmetrics key for Stripe account {name[:64]}: add it to account_api_keys; the run "
                "stopped before sending any of its events, and no STATE was emitted past them"
            )
        return name

    @staticmethod
    def apply(event: BuiltEvent, route: str) -> BuiltEvent:
        """The event as journaled and sent: unchanged for ``api_key``, else keyed and marked by account."""
        if not route:
            return event
        return BuiltEvent(key=f"{event.key}@{route}", query=f"{route}{ROUTE_SEPARATOR}{event.query}")


def split_route(stored: str) -> tuple[str, str]:
    """``(account, query)`` of a stored request (account "" for ``api_key``)."""
    route, separator, query = stored.partition(ROUTE_SEPARATOR)
    return (route, query) if separator else ("", stored)
