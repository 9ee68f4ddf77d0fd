"""Up-front checks of the settings: one clear line each, never echoing the key."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from tap_stripe_billing.errors import ConfigError

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def is_loopback_host(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_settings(config: Mapping[str, Any]) -> None:
    """Raise ConfigError for the first refused setting."""
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
    if key.startswith(("sk_test_", "rk_test_")) and not config.get("allow_test_mode"):
        raise ConfigError(
            "api_key is a test-mode key (sk_test_/rk_test_): set allow_test_mode to true to use it"
        )
    if not key.startswith(("sk_live_", "rk_live_", "sk_test_", "rk_test_")):
        raise ConfigError("api_key does not look like a Stripe secret or restricted key (sk_live_/rk_live_)")

    api_url = str(config.get("api_url") or "https://api.stripe.com")
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"api_url must be an http(s) URL, got {api_url!r}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(f"api_url uses plain http to a non-loopback host ({parts.hostname}): use https")

    rate = _number(config, "max_requests_per_second")
    if rate is not None and rate <= 0:
        raise ConfigError("max_requests_per_second must be greater than 0")
    backoff = _number(config, "backoff_base_seconds")
    if backoff is not None and backoff < 0:
        raise ConfigError("backoff_base_seconds must not be negative")
    for name in ("backfill_parallelism",):
        value = config.get(name)
        if value is not None and int(value) < 1:
            raise ConfigError(f"{name} must be at least 1")
    for name in ("lag_minutes", "overlap_minutes", "created_slack_days"):
        value = config.get(name)
        if value is not None and int(value) < 0:
            raise ConfigError(f"{name} must not be negative")


def _number(config: Mapping[str, Any], name: str) -> float | None:
    """A number setting, given as a number or a string of one (as Meltano passes it from the environment)."""
    value = config.get(name)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
