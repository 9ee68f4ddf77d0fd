"""The target's settings: JSON schema (for the SDK) and the checks the schema cannot express."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from singer_sdk import typing as th

from target_kissmetrics.errors import ConfigError
from target_kissmetrics.journal import default_journal_path
from target_kissmetrics.routing import parse_account_keys

DEFAULT_TRACKING_URL = "https://trk.kissmetrics.io"

# A number, or a string of one: Meltano hands `kind: decimal` settings set in the environment to
# plugins as strings at best (and crashes on them at worst), so meltano.yml declares these as strings.
DECIMAL = th.CustomType({"type": ["number", "string"], "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*$"})

# Checked in Settings.from_config, which names the setting: Meltano's `kind: integer` crashes on "0.5"
# from the environment with a line that does not, so meltano.yml declares it as a string.
WHOLE_NUMBER = th.CustomType({"type": ["number", "string"]})

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "api_key",
        th.StringType,
        required=True,
        secret=True,
        description="KISSmetrics API key (_k). Never logged.",
    ),
    th.Property(
        "account_api_keys",
        th.ObjectType(additional_properties=th.StringType),
        secret=True,
        description=(
            "Stripe account (acct_...) -> KISSmetrics API key of that account's product. Records of an"
            " account not listed stop the run; api_key is the default for records with no account_id."
        ),
    ),
    th.Property(
        "tracking_url",
        th.StringType,
        default=DEFAULT_TRACKING_URL,
        description="Tracking host. Plain http is refused unless the host is loopback.",
    ),
    th.Property("max_concurrency", th.IntegerType, default=16, description="Requests in flight."),
    th.Property("timeout_seconds", DECIMAL, default=15, description="Per request."),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=6,
        description="Per request: backoff with full jitter on timeouts, connection errors, 429, 5xx.",
    ),
    th.Property(
        "backoff_base_seconds",
        DECIMAL,
        default=0.5,
        description="First retry waits up to this long; each further retry doubles it (capped at 30 s).",
    ),
    th.Property(
        "dry_run", th.BooleanType, default=False, description="Build and log (redacted), send nothing."
    ),
    th.Property(
        "lowercase_identity", th.BooleanType, default=True, description="Trim and lower-case the email (_p)."
    ),
    th.Property(
        "identity_fallback",
        th.StringType,
        default="none",
        allowed_values=["none", "customer_id"],
        description="What identifies a record with no email.",
    ),
    th.Property(
        "event_mappings",
        th.ObjectType(additional_properties=True),
        description=(
            "Stream name -> event mapping, merged with the built-in ones: properties are merged by name,"
            " remove_properties drops built-in ones, other keys replace (target_kissmetrics.mapping)."
        ),
    ),
    th.Property(
        "journal_path",
        th.StringType,
        description=(
            "Delivery journal (SQLite, owner-only). Default: $MELTANO_PROJECT_ROOT/.target-kissmetrics/"
            "<Meltano environment>/journal.sqlite, else ./.target-kissmetrics/journal.sqlite."
        ),
    ),
    th.Property(
        "journal_url",
        th.StringType,
        secret=True,  # may hold a database password
        description=(
            "SQLAlchemy URL of the delivery journal; default the SQLite file at journal_path. "
            "postgresql+psycopg://USER:PASSWORD@HOST/DB lets several targets share one journal."
        ),
    ),
    th.Property(
        "journal_retention_days",
        WHOLE_NUMBER,
        default=0,
        description=(
            "0 keeps delivered entries forever. N > 0 prunes those older than N days at start: a replay "
            "reaching further back (state clear, --full-refresh) re-sends their records."
        ),
    ),
).to_dict()


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def whole_days(value: Any) -> int:
    """``journal_retention_days`` as a whole number of days, 0 or more, else one line naming it."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit():
        raise ConfigError(
            f"journal_retention_days must be a whole number of days, 0 or more (0 keeps every entry "
            f"forever); got {text[:20]!r}"
        )
    return int(text)


@dataclass(frozen=True)
class Settings:
    api_key: str
    account_api_keys: dict[str, str]  # Stripe account -> KISSmetrics key (routing.py)
    tracking_url: str
    max_concurrency: int
    timeout_seconds: float
    max_retries: int
    backoff_base_seconds: float
    dry_run: bool
    lowercase_identity: bool
    use_fallback: bool
    journal_path: Path
    journal_path_is_default: bool
    journal_url: str | None
    journal_retention_days: int

    @property
    def secrets(self) -> list[str]:
        """Every KISSmetrics key of the run (redacted from every log line and error)."""
        return [self.api_key, *self.account_api_keys.values()]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        api_key = str(config.get("api_key") or "").strip()
        if not api_key:
            raise ConfigError("api_key is empty: set TARGET_KISSMETRICS_API_KEY or api_key")
        url = str(config.get("tracking_url") or DEFAULT_TRACKING_URL).strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ConfigError("tracking_url must be an http(s) URL with a host")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ConfigError("tracking_url must not carry a query, fragment or credentials")
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            raise ConfigError(
                f"tracking_url uses plain http to {parts.hostname}: the key would travel in clear; "
                "use https (plain http is only allowed for loopback hosts)"
            )
        max_concurrency = int(config.get("max_concurrency", 16))
        if not 1 <= max_concurrency <= 256:
            raise ConfigError("max_concurrency must be between 1 and 256")
        timeout = float(config.get("timeout_seconds", 15))
        if timeout <= 0:
            raise ConfigError("timeout_seconds must be positive")
        retries = int(config.get("max_retries", 6))
        if retries < 0:
            raise ConfigError("max_retries must be 0 or more")
        fallback = config.get("identity_fallback", "none")
        if fallback not in {"none", "customer_id"}:
            raise ConfigError("identity_fallback must be 'none' or 'customer_id'")
        journal = config.get("journal_path")
        return cls(
            api_key=api_key,
            account_api_keys=parse_account_keys(config.get("account_api_keys")),
            tracking_url=url,
            max_concurrency=max_concurrency,
            timeout_seconds=timeout,
            max_retries=retries,
            backoff_base_seconds=max(0.0, float(config.get("backoff_base_seconds", 0.5))),
            dry_run=bool(config.get("dry_run", False)),
            lowercase_identity=bool(config.get("lowercase_identity", True)),
            use_fallback=fallback == "customer_id",
            journal_path=Path(journal).expanduser() if journal else default_journal_path(),
            journal_path_is_default=not journal and not config.get("journal_url"),
            journal_url=str(config.get("journal_url") or "").strip() or None,
            journal_retention_days=whole_days(config.get("journal_retention_days", 0)),
        )
