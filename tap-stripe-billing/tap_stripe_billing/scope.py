"""The Stripe account a stream reads, and its state: the key's own account, or a connected account's
singer-sdk partition (``bookmarks.<stream>.partitions[{"context": {"account_id": …}, …}]``).

- Every record carries ``account_id`` (added to every stream's schema here).
- The key's own account is asked once (``GET /v1/account``, ``Run.own_account``) and kept in the
  stream state (``account_id``), so later runs do not ask again. It is not part of the state's binding
  (``state.py``): a state parked for the other key mode is found again by the mode alone.
- A state written for the key's own account (the stream-level state, before connected accounts were
  configured) is moved into the partition of that same account the first time the account is read as a
  connected account, so nothing it already emitted is emitted again.
- An account Stripe refuses is skipped: its partition state is put back as it was before the attempt.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from singer_sdk import Stream

from tap_stripe_billing.sdk_private import SDK_TRANSIENT_STATE_KEYS
from tap_stripe_billing.state import BINDING_KEY

if TYPE_CHECKING:
    from tap_stripe_billing.run import Run

LOGGER = logging.getLogger("tap_stripe_billing")

ACCOUNT_FIELD = "account_id"
PARTITIONS_KEY = "partitions"


def with_account_id(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` with the ``account_id`` property (the Stripe account a record came from)."""
    properties = dict(schema.get("properties") or {})
    properties[ACCOUNT_FIELD] = {
        "type": ["string", "null"],
        "description": "The Stripe account the record came from (acct_...)",
    }
    return {**schema, "properties": properties}


def stream_level_state(stream: Stream) -> dict:
    """singer-sdk's own stream state (``bookmarks.<stream>``), whatever account is being read."""
    state = Stream.stream_state.fget(stream)  # type: ignore[attr-defined]
    assert isinstance(state, dict)
    return state


def snapshot(state: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a partition's state, to put back if its account is refused."""
    return copy.deepcopy(dict(state))


def restore(state: MutableMapping[str, Any], kept: Mapping[str, Any]) -> None:
    """Put a partition's state back as it was (without singer-sdk's in-run markers, so nothing the
    refused attempt emitted is promoted to a bookmark)."""
    state.clear()
    state.update(copy.deepcopy(dict(kept)))
    for key in SDK_TRANSIENT_STATE_KEYS:
        state.pop(key, None)


def own_account(state: MutableMapping[str, Any], run: Run) -> str | None:
    """The key's own account id: from the stream state, else asked once per run and kept there."""
    account = state.get(ACCOUNT_FIELD)
    if not account:
        account = run.own_account()
        if account:
            state[ACCOUNT_FIELD] = account
    return str(account) if account else None


def adopt_single_account_state(stream: Any, account: str) -> None:
    """Move the stream-level state into ``account``'s partition when it was written for that account and
    the partition has none yet (a project that used the key's own account, then named it in
    ``account_ids``)."""
    partition = stream.get_context_state({ACCOUNT_FIELD: account})
    if partition.get("replication_key_value") is not None or partition.get(BINDING_KEY):
        return
    top = stream_level_state(stream)
    if top.get("replication_key_value") is None:
        return
    owner = top.get(ACCOUNT_FIELD)
    if owner is None:
        owner = stream.run.own_account()
    if owner != account:
        return
    for key in [k for k in top if k != PARTITIONS_KEY]:
        partition[key] = top.pop(key)
    LOGGER.info("%s: the key's own state now belongs to account %s (its partition)", stream.name, account)
