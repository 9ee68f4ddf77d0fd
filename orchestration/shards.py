"""Shard names: Dagster partition keys ``K/N`` (the tap's ``account_shard``) and Meltano state id suffixes."""

from __future__ import annotations

import os
import re

SHARDS_ENV = "STRIPE_KM_SHARDS"
DEFAULT_SHARDS = 4
_KEY = re.compile(r"^(\d+)/(\d+)$")


def shard_count(env: dict[str, str] | None = None) -> int:
    """N, from ``STRIPE_KM_SHARDS`` (default 4). One clear error for anything but a positive integer."""
    raw = (os.environ if env is None else env).get(SHARDS_ENV, str(DEFAULT_SHARDS)).strip()
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{SHARDS_ENV} must be a positive integer, got {raw!r}")
    return int(raw)


def shard_keys(count: int) -> list[str]:
    """The static partition keys ``0/N … N-1/N``, exactly the tap's ``account_shard`` values."""
    if count < 1:
        raise ValueError(f"the shard count must be a positive integer, got {count}")
    return [f"{index}/{count}" for index in range(count)]


def state_id_suffix(key: str) -> str:
    """``0/4`` -> ``shard-0-of-4``: the ``meltano run --state-id-suffix`` of that shard's bookmarks.

    N is part of it on purpose: with another N an account belongs to another shard, so old bookmarks
    must not be reused for a different set of accounts.
    """
    match = _KEY.match(key)
    if not match or int(match.group(1)) >= int(match.group(2)):
        raise ValueError(f"a shard is K/N with 0 <= K < N, got {key!r}")
    return f"shard-{match.group(1)}-of-{match.group(2)}"
