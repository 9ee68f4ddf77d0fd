"""The tap's settings: the JSON schema (which holds every default) and one frozen, checked object.

``Settings.from_config`` is built once per run by the Tap: it lays the config over the schema's
defaults, refuses a bad setting with one clear line (never echoing the key), and trims the API key
once, so the key that is checked is the key that is sent.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from singer_sdk import typing as th

from tap_stripe_billing.accounts import parse_account_ids, parse_shard
from tap_stripe_billing.errors import ConfigError
from tap_stripe_billing.pacing import BACKOFF_CAP_SECONDS, MAX_RETRIES
from tap_stripe_billing.state import parse_timestamp

# A number, or a string of one: Meltano hands `kind: decimal` settings set in the environment to
# plugins as strings at best (and crashes on them at worst), so meltano.yml declares these as strings.
DECIMAL = th.CustomType({"type": ["number", "string"], "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*$"})

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "api_key",
        th.StringType,
        required=True,
        secret=True,
        description="Stripe secret or restricted key (sk_live_..., rk_live_...)",
    ),
    th.Property(
        "start_date", th.DateTimeType, description="Earliest paid_at to import (none = whole history)"
    ),
    th.Property(
        "api_url",
        th.StringType,
        default="https://api.stripe.com",
        description="Stripe API base. Plain http only for loopback hosts",
    ),
    th.Property(
        "allow_test_mode",
        th.BooleanType,
        default=False,
        description="Accept a test-mode key (sk_test_/rk_test_) and import test-mode payments too",
    ),
    th.Property(
        "include_zero_amount",
        th.BooleanType,
        default=False,
        description="Also emit paid invoices with amount_paid == 0 (trials, 100% coupons)",
    ),
    th.Property(
        "max_requests_per_second",
        DECIMAL,
        default=20,
        description=(
            "Client-side limit on all requests of a run, every stream and thread together (Stripe allows"
            " 100/s per live account, 25/s in test mode)"
        ),
    ),
    th.Property(
        "max_requests_per_second_per_endpoint",
        DECIMAL,
        default=25,
        description=(
            "Client-side limit on the requests to any one Stripe endpoint (Stripe allows 25/s per endpoint"
            " unless it raised your account's limits); applies within max_requests_per_second"
        ),
    ),
    th.Property(
        "lag_minutes",
        th.IntegerType,
        default=5,
        description="Never read the last few minutes (Stripe lists and events are eventually consistent)",
    ),
    th.Property(
        "overlap_minutes",
        th.IntegerType,
        default=60,
        description="Re-read this much before the bookmark to catch late events (deduplicated)",
    ),
    th.Property(
        "created_slack_days",
        th.IntegerType,
        default=62,
        description=(
            "Backfill lists invoices created this many days before the lower bound, because invoices are"
            " paid after creation (Stripe's longest retry schedule is 2 months)"
        ),
    ),
    th.Property(
        "backoff_base_seconds",
        DECIMAL,
        default=0.5,
        description=(
            f"Retries of 429, 5xx and connection errors ({MAX_RETRIES} per request) wait up to this long the"
            f" first time, doubling each time (capped at {BACKOFF_CAP_SECONDS:g} s), or as long as Stripe's"
            " Retry-After says; lower it only for tests against a stand-in"
        ),
    ),
    # Slices in flight: enough for Stripe's live rate (100 requests/s) at ~160 ms per list page, and for
    # the default 20/s at up to 800 ms (in flight = rate x latency).
    th.Property(
        "backfill_parallelism",
        th.IntegerType,
        default=16,
        description="Concurrent created-time slices in a backfill (1 = sequential)",
    ),
    th.Property(
        "checkpoint_interval_seconds",
        DECIMAL,
        default=60,
        description=(
            "A first backfill writes its completed slices in a STATE at most this often (0 = after every"
            " slice); a killed run re-reads at most about this long of slices"
        ),
    ),
    th.Property(
        "account_ids",
        th.ArrayType(th.StringType),
        description=(
            "Connected accounts (acct_...) to read, each with the Stripe-Account header and its own"
            " bookmarks (none = the key's own account)"
        ),
    ),
    th.Property(
        "all_connected_accounts",
        th.BooleanType,
        default=False,
        description="Also read every account GET /v1/accounts lists for the platform's key",
    ),
    th.Property(
        "account_shard",
        th.StringType,
        description=(
            'Read only shard K of N ("K/N", e.g. "0/4") of the accounts, by a stable hash of the account id,'
            " so N workers split a platform without overlap"
        ),
    ),
).to_dict()

DEFAULTS: dict[str, Any] = {
    name: prop["default"] for name, prop in CONFIG_SCHEMA["properties"].items() if "default" in prop
}

LIVE_KEY_PREFIXES = ("sk_live_", "rk_live_")
TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")


def is_loopback_host(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (the target keeps its own copy: tests check they agree)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    """Every setting of a run, checked and parsed (defaults come from ``CONFIG_SCHEMA``)."""

    api_key: str = field(repr=False)
    api_url: str
    start_date: int | None
    allow_test_mode: bool
    include_zero_amount: bool
    max_requests_per_second: float
    max_requests_per_second_per_endpoint: float
    lag_minutes: int
    overlap_minutes: int
    created_slack_days: int
    backoff_base_seconds: float
    backfill_parallelism: int
    checkpoint_interval_seconds: float
    account_ids: tuple[str, ...] = ()
    all_connected_accounts: bool = False
    account_shard: tuple[int, int] | None = None

    @property
    def connected(self) -> bool:
        """True when the run reads connected accounts (each a partition) instead of the key's own."""
        return bool(self.account_ids) or self.all_connected_accounts

    @property
    def live_key(self) -> bool:
        """Objects read with a key are of that key's mode."""
        return self.api_key.startswith(LIVE_KEY_PREFIXES)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """The settings of ``config`` over the schema's defaults; ConfigError for the first refused one."""
        merged = {**DEFAULTS, **{k: v for k, v in config.items() if v is not None}}
        if merged.get("batch_config"):
            # singer-sdk would write BATCH files instead of RECORD messages, outside the exactly-once
            # loop and its state; target-kissmetrics reads RECORD messages only.
            raise ConfigError("batch_config is not supported: this tap sends RECORD messages only")
        return cls(
            api_key=_api_key(merged),
            api_url=_api_url(merged),
            start_date=_start_date(merged),
            allow_test_mode=bool(merged["allow_test_mode"]),
            include_zero_amount=bool(merged["include_zero_amount"]),
            max_requests_per_second=_number(merged, "max_requests_per_second", above=0),
            max_requests_per_second_per_endpoint=_number(
                merged, "max_requests_per_second_per_endpoint", above=0
            ),
            lag_minutes=_integer(merged, "lag_minutes", least=0),
            overlap_minutes=_integer(merged, "overlap_minutes", least=0),
            created_slack_days=_integer(merged, "created_slack_days", least=0),
            backoff_base_seconds=_number(merged, "backoff_base_seconds", above=None),
            backfill_parallelism=_integer(merged, "backfill_parallelism", least=1),
            checkpoint_interval_seconds=_number(merged, "checkpoint_interval_seconds", above=None),
            **_accounts(merged),
        )


def _api_key(config: Mapping[str, Any]) -> str:
    key = config.get("api_key")
    if not isinstance(key, str) or not key.strip():
        raise ConfigError(
            "api_key is missing or empty: set a Stripe secret or restricted key (sk_live_/rk_live_)"
        )
    key = key.strip()
    if key.startswith("pk_"):
        raise ConfigError(
            "api_key is a publishable key (pk_...): use a secret (sk_live_) or restricted (rk_live_) key"
        )
    if key.startswith(TEST_KEY_PREFIXES) and not config.get("allow_test_mode"):
        raise ConfigError(
            "api_key is a test-mode key (sk_test_/rk_test_): set allow_test_mode to true to use it"
        )
    if not key.startswith(LIVE_KEY_PREFIXES + TEST_KEY_PREFIXES):
        raise ConfigError("api_key does not look like a Stripe secret or restricted key (sk_live_/rk_live_)")
    return key


def _accounts(config: Mapping[str, Any]) -> dict[str, Any]:
    account_ids = parse_account_ids(config.get("account_ids"))
    every = config.get("all_connected_accounts")
    if isinstance(every, str):  # an environment variable's "true"/"false"
        every = every.strip().lower() in ("1", "true", "yes")
    shard = parse_shard(config.get("account_shard"))
    if shard is not None and not (account_ids or every):
        raise ConfigError("account_shard needs accounts to split: set account_ids or all_connected_accounts")
    return {"account_ids": account_ids, "all_connected_accounts": bool(every), "account_shard": shard}


def _api_url(config: Mapping[str, Any]) -> str:
    api_url = str(config.get("api_url") or DEFAULTS["api_url"])
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"api_url must be an http(s) URL, got {api_url!r}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(f"api_url uses plain http to a non-loopback host ({parts.hostname}): use https")
    return api_url.rstrip("/")


def _start_date(config: Mapping[str, Any]) -> int | None:
    try:
        return parse_timestamp(config.get("start_date"))
    except (TypeError, ValueError):
        raise ConfigError(
            f"start_date must be an ISO 8601 date-time, got {config.get('start_date')!r}"
        ) from None


def _number(config: Mapping[str, Any], name: str, *, above: float | None) -> float:
    """A number setting, given as a number or a string of one (as Meltano passes it from the environment);
    greater than ``above``, or (``above`` None) not negative."""
    value = config[name]
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if above is not None and number <= above:
        raise ConfigError(f"{name} must be greater than {above:g}")
    if above is None and number < 0:
        raise ConfigError(f"{name} must not be negative")
    return number


def _integer(config: Mapping[str, Any], name: str, *, least: int) -> int:
    value = config[name]
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
    if number < least:
        raise ConfigError(f"{name} must be at least {least}" if least else f"{name} must not be negative")
    return number
