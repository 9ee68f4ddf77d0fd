"""Errors the tap reports as one clear line (never with the API key in them)."""

from __future__ import annotations

import re

# Stripe keys (and Stripe's own masked echo of them, e.g. ``sk_live_****1234``).
_KEY_PATTERN = re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9*]+")


def redact(text: str) -> str:
    """Replace anything that looks like a Stripe key with ``[redacted key]``."""
    return _KEY_PATTERN.sub("[redacted key]", text)


class TapStripeBillingError(Exception):
    """An error the CLI prints as one line and exits non-zero for."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(redact(message).split()))  # one line, whatever the cause's text holds


class ConfigError(TapStripeBillingError):
    """A setting is missing or refused (checked before any request)."""


class StripeAccessError(TapStripeBillingError):
    """Stripe refused the key (401) or a permission (403), or a request failed for good."""


class AccountUnavailableError(StripeAccessError):
    """Stripe refused a connected account (403 ``account_invalid``: access revoked, or no such account).
    The run skips that account, keeping its state, and goes on with the others."""

    def __init__(self, account_id: str, message: str) -> None:
        super().__init__(message)
        self.account_id = account_id
