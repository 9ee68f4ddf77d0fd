"""Stripe Connect in the stand-in: a platform's connected accounts, each its own seeded generated account.

- ``GET /v1/accounts`` lists the connected accounts, newest first, paged like every Stripe list
  (``limit``, ``starting_after``, ``ending_before``), each rendered as a Stripe Account object (the fields
  of stripe-python's ``stripe.Account``).
- A request with ``Stripe-Account: acct_…`` is answered from that account's own data: an account generated
  on first use (so a platform of 200 accounts starts at once) from the platform's config with its own
  seed and invoice count, on the platform's clock.
- An account whose access is revoked (``revoke``), or an id the platform does not have, gets what Stripe
  answers then: HTTP 403, ``invalid_request_error``, code ``account_invalid``, "The provided key '…' does
  not have access to account '…' (or that account does not exist). Application access may have been
  revoked." A revoked account is no longer listed (it is no longer connected).
"""

from __future__ import annotations

import dataclasses
import random
import threading
from dataclasses import dataclass
from typing import Any

from .account import Account
from .config import DAY, AccountConfig
from .errors import StripeError, missing
from .generator import generate_account
from .ids import _ALPHABET
from .keys import masked


@dataclass
class Connected:
    """One connected account: its id, when it connected, what to generate for it, and its faults."""

    id: str
    created: int
    config: AccountConfig
    name: str
    revoked: bool = False


class Platform:
    """The connected accounts of the stand-in's platform account (none unless ``connect`` is called)."""

    def __init__(self) -> None:
        self.accounts: dict[str, Connected] = {}
        self._generated: dict[str, Account] = {}
        self._lock = threading.Lock()

    def connect(self, base: AccountConfig, count: int, invoices: int | None = None) -> list[str]:
        """Add ``count`` connected accounts generated like ``base`` (each with ``invoices`` invoices, the
        platform's count by default, and a seed of its own); their ids, oldest first."""
        rng = random.Random(f"connected-accounts-{base.seed}-{len(self.accounts)}")
        first = base.now - base.history_days * DAY
        added = []
        for _ in range(count):
            index = len(self.accounts)
            account_id = "acct_1" + "".join(rng.choice(_ALPHABET) for _ in range(15))
            cfg = dataclasses.replace(
                base,
                seed=base.seed * 100_003 + index + 1,
                invoices=base.invoices if invoices is None else invoices,
            )
            self.accounts[account_id] = Connected(
                account_id, first + index * 60, cfg, f"Connected business {index + 1}"
            )
            added.append(account_id)
        return added

    def revoke(self, account_id: str, revoked: bool = True) -> None:
        """Revoke (or give back) the platform's access to a connected account."""
        self.accounts[account_id].revoked = revoked

    def account(self, account_id: str, key: str, now: int) -> Account:
        """The data of a connected account the key may read, on the platform's clock; Stripe's 403
        otherwise."""
        found = self.accounts.get(account_id)
        if found is None or found.revoked:
            raise no_access(key, account_id)
        with self._lock:
            data = self._generated.get(account_id)
            if data is None:
                data = self._generated[account_id] = generate_account(found.config)
        data.set_now(now)
        return data

    def generated(self, account_id: str, now: int) -> Account:
        """A connected account's data whatever its faults (for the ground truth)."""
        found = self.accounts[account_id]
        with self._lock:
            data = self._generated.get(found.id)
            if data is None:
                data = self._generated[found.id] = generate_account(found.config)
        data.set_now(now)
        return data

    def list_page(self, pairs: list[tuple[str, str]], now: int) -> dict[str, Any]:
        """``GET /v1/accounts``: connected (not revoked) accounts created by ``now``, newest first."""
        params = dict(pairs)
        limit = int(params.get("limit") or 10)
        if not 1 <= limit <= 100:
            raise StripeError(400, "Invalid integer: limit must be between 1 and 100", param="limit")
        listed = sorted(
            (a for a in self.accounts.values() if not a.revoked and a.created <= now),
            key=lambda a: (a.created, a.id),
            reverse=True,
        )
        ids = [a.id for a in listed]
        start, stop = 0, len(listed)
        if params.get("starting_after"):
            start = _index(ids, params["starting_after"], "starting_after") + 1
        elif params.get("ending_before"):
            stop = _index(ids, params["ending_before"], "ending_before")
            start = max(0, stop - limit)
        page = listed[start:stop][:limit]
        return {
            "object": "list",
            "url": "/v1/accounts",
            "has_more": start + len(page) < stop,
            "data": [render_account(a) for a in page],
        }


def _index(ids: list[str], account_id: str, param: str) -> int:
    try:
        return ids.index(account_id)
    except ValueError:
        raise missing("account", account_id, param) from None


def no_access(key: str, account_id: str) -> StripeError:
    """Stripe's answer for a ``Stripe-Account`` the key may not act for (revoked, or no such account)."""
    return StripeError(
        403,
        f"The provided key '{masked(key)}' does not have access to account '{account_id}' (or that account"
        " does not exist). Application access may have been revoked.",
        code="account_invalid",  # doc_url: https://stripe.com/docs/error-codes/account-invalid
    )


def render_account(found: Connected) -> dict[str, Any]:
    """A Standard connected account as Stripe renders it (the fields of stripe-python's ``Account``)."""
    return {
        "id": found.id,
        "object": "account",
        "business_profile": {
            "mcc": "5734",
            "name": found.name,
            "support_email": None,
            "url": None,
            "product_description": None,
        },
        "business_type": "company",
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "controller": {"type": "account"},
        "country": "US",
        "created": found.created,
        "default_currency": "usd",
        "details_submitted": True,
        "email": None,
        "metadata": {},
        "payouts_enabled": True,
        "settings": {"dashboard": {"display_name": found.name, "timezone": "Etc/UTC"}},
        "tos_acceptance": {"date": found.created},
        "type": "standard",
    }
