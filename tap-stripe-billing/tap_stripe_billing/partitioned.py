"""The account a stream reads: one singer-sdk partition per connected account (``scope.py``).

With connected accounts (``accounts.py``) each account is a partition (context ``{"account_id": …}``)
read in turn with its own state, start and ``Stripe-Account`` client view; a connected account Stripe
refuses (403 ``account_invalid``) is skipped with its state as it was. Every record carries
``account_id``. Before anything reads an account's state, the state is bound to the key's mode
(``state.bind``). The reading itself (``_records``) is ``base.py``'s.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from singer_sdk import Stream, Tap

from tap_stripe_billing import scope as account_scope
from tap_stripe_billing.client import StripeAPI
from tap_stripe_billing.errors import AccountUnavailableError
from tap_stripe_billing.run import Run
from tap_stripe_billing.settings import Settings
from tap_stripe_billing.state import bind, binding_for
from tap_stripe_billing.windows import WindowSettings

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_stripe_billing.base import RunStart

LOGGER = logging.getLogger("tap_stripe_billing")


class PartitionedStream(Stream):
    """A Stripe stream that reads the key's own account, or each connected account as a partition."""

    # Lists whose ``created`` is the replication time need no slack (only invoices are paid late).
    uses_created_slack = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if isinstance(cls.__dict__.get("schema"), dict):  # every stream's records carry account_id
            setattr(cls, "schema", account_scope.with_account_id(cls.__dict__["schema"]))  # noqa: B010

    def __init__(self, tap: Tap, run: Run) -> None:
        super().__init__(tap)
        self.run = run
        self._start: RunStart | None = None
        self._bound = False
        self._account: str | None = None  # the connected account being read (None: the key's own)
        self._record_account: str | None = None  # what records carry as account_id

    # -- the run's settings, client and clock (shared by the tap's streams) -----------------------------
    @property
    def settings(self) -> Settings:
        return self.run.settings

    @property
    def api(self) -> StripeAPI:
        """The run's one Stripe client (shared rate limits and counters); while a connected account is
        read, its view that sends ``Stripe-Account``."""
        if self._account is not None:
            return self.run.api.for_account(self._account)
        return self.run.api

    # -- accounts: one partition per connected account (scope.py) ----------------------------------------
    @property
    def partitions(self) -> list[dict] | None:
        """One context per connected account this run reads; None when it reads the key's own account."""
        if not self.settings.connected:
            return None
        return [{"account_id": account} for account in self.run.accounts()]

    @property
    def stream_state(self) -> dict:
        """The state of the account being read: its partition's, or the stream's own."""
        if self._account is not None:
            return self.get_context_state({"account_id": self._account})
        return account_scope.stream_level_state(self)

    @property
    def window_settings(self) -> WindowSettings:
        settings = self.settings
        return WindowSettings(
            lag_minutes=settings.lag_minutes,
            overlap_minutes=settings.overlap_minutes,
            created_slack_days=settings.created_slack_days if self.uses_created_slack else 0,
        )

    def bind_state(self) -> None:
        """Make the saved state this key's own (``state.bind``), once, before anything reads it: singer-sdk
        asks for the signpost (so for the stream's start, which reads the bookmark) first."""
        if self._bound:
            return
        self._bound = True
        binding = binding_for({"api_key": self.settings.api_key})
        if self._account is not None:
            account_scope.adopt_single_account_state(self, self._account)
            binding["account_id"] = self._account
        state = self.stream_state
        switched = bind(state, binding)
        if self._account is not None:  # a partition keeps its context (singer-sdk finds it by that)
            state.setdefault("context", {"account_id": self._account})
        if switched:
            LOGGER.warning("%s: %s", self.name, switched)
        self._record_account = self._account or account_scope.own_account(self.stream_state, self.run)

    # -- the loop ---------------------------------------------------------------------------------------
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The records of one account: the key's own, or (``context``) a connected account's partition."""
        account = (context or {}).get("account_id")
        if not self.settings.connected:
            yield from self._records()
            return
        if account is None:  # singer-sdk reads one empty context when the shard holds no account
            LOGGER.info("%s: no connected account to read (account_ids, shard)", self.name)
            return
        if account in self.run.refused:  # refused to an earlier stream of this run: reported there
            return
        self._account, self._start, self._bound = str(account), None, False
        kept = account_scope.snapshot(self.stream_state)
        try:
            yield from self._records()
        except AccountUnavailableError as exc:
            account_scope.restore(self.stream_state, kept)
            self.run.refused.add(exc.account_id)
            LOGGER.warning("Skipped Stripe account %s this run, its state kept: %s", exc.account_id, exc)
        finally:
            self._account, self._start = None, None

    def _records(self) -> Iterator[dict[str, Any]]:
        """The records of the account being read (``base.py``)."""
        raise NotImplementedError
