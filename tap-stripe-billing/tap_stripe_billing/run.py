"""What one run of the tap shares across its streams: the settings, one Stripe client, one clock, one
pace for checkpoint STATEs.

The Tap builds a :class:`Run` once and hands it to every stream, so that

- the rate limits hold for the run (every stream and thread goes through the one client);
- every stream cuts its read window on the same "now": Stripe's clock, read once per run.

Reading the clock costs no request of its own when the run's first request (one it makes anyway, see
``ExactlyOnceStream.open_run``) has already brought Stripe's ``Date`` header.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from tap_stripe_billing.accounts import connected_accounts, select_accounts
from tap_stripe_billing.checkpoint import CheckpointPacer
from tap_stripe_billing.client import StripeAPI
from tap_stripe_billing.errors import StripeAccessError
from tap_stripe_billing.settings import Settings

if TYPE_CHECKING:
    from tap_stripe_billing.events_feed import EventsFeed


class ClockSource(Protocol):
    """What the clock needs from the Stripe client."""

    def clock(self) -> int: ...  # pragma: no cover


class RunClock:
    """Stripe's "now" for the whole run: read once, on first use, then fixed.

    An older "now" for a later stream only makes it read less this run (its bookmark is that "now"
    minus the lag): nothing is skipped.
    """

    def __init__(self, source: ClockSource) -> None:
        self._source = source
        self._now: int | None = None

    @property
    def is_read(self) -> bool:
        """True once the run's "now" is fixed."""
        return self._now is not None

    def now(self) -> int:
        """The run's "now" (unix seconds on Stripe's clock); the first call reads it."""
        if self._now is None:
            self._now = int(self._source.clock())
        return self._now


@dataclass(frozen=True)
class Run:
    """The settings, the Stripe client and the clock of one run (built once by the Tap), the accounts
    it reads, each looked up at most once per run, and the run's shared events reads by account
    (``events_feed.py``)."""

    settings: Settings
    api: StripeAPI
    clock: RunClock
    pacer: CheckpointPacer  # when the next backfill checkpoint STATE may be written (checkpoint.py)
    feeds: dict[str | None, EventsFeed | None] = field(default_factory=dict)
    _found: dict[str, object] = field(default_factory=dict, repr=False)
    refused: set[str] = field(default_factory=set)  # connected accounts Stripe refused this run
    # Customer emails fetched this run, by account (``customers.py``): shared by the streams, never saved.
    emails: dict[str | None, dict[str, str | None]] = field(default_factory=dict, repr=False)

    def accounts(self) -> list[str]:
        """The connected accounts this run reads (``accounts.py``), listed once per run."""
        if "accounts" not in self._found:
            settings = self.settings
            listed = connected_accounts(self.api) if settings.all_connected_accounts else []
            self._found["accounts"] = select_accounts(settings.account_ids, listed, settings.account_shard)
        found = self._found["accounts"]
        assert isinstance(found, list)
        return found

    def own_account(self) -> str | None:
        """The key's own account (``GET /v1/account``), asked at most once per run; None when the key may
        not read it (a restricted key without that permission): records then carry no account_id."""
        if "own" not in self._found:
            try:
                body = self.api.get("/v1/account")
            except StripeAccessError as exc:
                if "403" not in str(exc):
                    raise
                body = None
            self._found["own"] = str(body["id"]) if body and body.get("id") else None
        own = self._found["own"]
        return own if isinstance(own, str) else None
