"""Which Stripe accounts a run reads: the settings' accounts, the platform's connected accounts, a shard.

- ``account_ids`` and ``all_connected_accounts`` (every account ``GET /v1/accounts`` lists, paged) name
  connected accounts; each is read with the ``Stripe-Account`` header, as its own singer-sdk partition.
- ``account_shard`` ``"K/N"`` keeps the accounts whose stable hash falls in shard K of N, so that N
  workers split a platform without overlap and without talking to each other. The hash is SHA-256 of the
  account id (not Python's ``hash()``, which is salted per process), so every worker, on every machine and
  every run, puts an account in the same shard.
- With none of them set, the run reads the key's own account, as before (no partitions, no header).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Protocol

from tap_stripe_billing.errors import ConfigError

ACCOUNT_ID = re.compile(r"^acct_[A-Za-z0-9]{1,64}$")
_SHARD = re.compile(r"^\s*(\d{1,6})\s*/\s*(\d{1,6})\s*$")


class Lister(Protocol):
    """What listing the connected accounts needs from the Stripe client."""

    def list_all(self, path: str, params: list[tuple[str, object]]) -> Iterable[dict[str, object]]: ...


def parse_account_ids(value: object) -> tuple[str, ...]:
    """``account_ids``: a list (or a comma-separated string, as an environment variable may give it) of
    ``acct_…`` ids, trimmed and de-duplicated in order; ConfigError naming the first bad one."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        items: list[object] = [part for part in value.split(",") if part.strip()]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise ConfigError("account_ids must be a list of Stripe account ids (acct_...)")
    seen: dict[str, None] = {}
    for item in items:
        text = str(item).strip() if isinstance(item, str) else ""
        if not ACCOUNT_ID.match(text):
            raise ConfigError(
                f"account_ids: {str(item)[:40]!r} is not a Stripe account id (acct_ followed by letters"
                " and digits)"
            )
        seen[text] = None
    return tuple(seen)


def parse_shard(value: object) -> tuple[int, int] | None:
    """``account_shard`` ``"K/N"`` → (K, N) with 0 ≤ K < N; None when unset; ConfigError otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    match = _SHARD.match(value) if isinstance(value, str) else None
    if match is not None:
        index, count = int(match.group(1)), int(match.group(2))
        if count >= 1 and 0 <= index < count:
            return index, count
    raise ConfigError(
        f'account_shard must be "K/N" with 0 <= K < N, e.g. "0/4" for the first of 4 shards;'
        f" got {str(value)[:20]!r}"
    )


def shard_of(account_id: str, count: int) -> int:
    """The shard (0 … count-1) an account belongs to: SHA-256 of its id, first 8 bytes, modulo count."""
    digest = hashlib.sha256(account_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def in_shard(account_id: str, shard: tuple[int, int] | None) -> bool:
    """True when no shard is set or the account falls in it."""
    return shard is None or shard_of(account_id, shard[1]) == shard[0]


def connected_accounts(api: Lister) -> list[str]:
    """Every account ``GET /v1/accounts`` lists for the platform's key (paged, 100 a page)."""
    return [str(account["id"]) for account in api.list_all("/v1/accounts", [("limit", 100)])]


def select_accounts(
    listed: Iterable[str], connected: Iterable[str], shard: tuple[int, int] | None
) -> list[str]:
    """The accounts a run reads: ``account_ids`` then the connected ones, each once, in a stable order
    (sorted), keeping only the shard's."""
    return sorted({a for a in [*listed, *connected] if in_shard(a, shard)})
