"""API keys the stand-in accepts, their modes and permissions, and Stripe's authentication errors."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from .errors import StripeError

ACCOUNT_ID = "acct_1StandIn0000000000000"
LIVE_KEY = "sk_live_" + "51StandInLiveKey00000001"
TEST_KEY = "sk_test_" + "51StandInTestKey00000001"
RESTRICTED_LIVE_KEY = "rk_live_" + "51StandInReadAll00000001"
RESTRICTED_NO_INVOICES_KEY = "rk_live_" + "51StandInNoInvoice000001"

READ_PERMISSIONS = frozenset(
    {
        "rak_invoice_read",
        "rak_event_read",
        "rak_plan_read",
        "rak_product_read",
        "rak_customer_read",
        "rak_subscription_read",
        "rak_refund_read",
        "rak_credit_note_read",
        "rak_charge_read",
    }
)


@dataclass(frozen=True)
class KeyInfo:
    livemode: bool
    permissions: frozenset[str] | None  # None: everything


def default_keys() -> dict[str, KeyInfo]:
    return {
        LIVE_KEY: KeyInfo(True, None),
        TEST_KEY: KeyInfo(False, None),
        RESTRICTED_LIVE_KEY: KeyInfo(True, READ_PERMISSIONS),
        RESTRICTED_NO_INVOICES_KEY: KeyInfo(True, READ_PERMISSIONS - {"rak_invoice_read"}),
    }


def masked(key: str) -> str:
    """``sk_live_****abcd``: the mode prefix and the last four characters, as Stripe prints keys."""
    parts = key.split("_", 2)
    prefix = "_".join(parts[:2]) + "_" if len(parts) == 3 else ""
    return f"{prefix}****{key[-4:]}"


def key_from_header(authorization: str | None) -> str:
    """The key from ``Bearer KEY`` or HTTP basic auth with the key as user name."""
    if not authorization:
        return ""
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value).decode()
        except (ValueError, UnicodeDecodeError):
            return ""
        return decoded.split(":", 1)[0]
    return ""


def authenticate(keys: dict[str, KeyInfo], key: str) -> KeyInfo:
    if not key:
        raise StripeError(
            401,
            "You did not provide an API key. You need to provide your API key in the Authorization header, "
            "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
            "https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
        )
    if key.startswith("pk_"):
        raise StripeError(
            401,
            "This API call cannot be made with a publishable API key. Please use a secret API key. "
            "You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys.",
        )
    info = keys.get(key)
    if info is None:
        raise StripeError(401, f"Invalid API Key provided: {masked(key)}")
    return info


def authorize(info: KeyInfo, key: str, permission: str) -> None:
    if info.permissions is not None and permission not in info.permissions:
        raise StripeError(
            403,
            f"The provided key '{masked(key)}' does not have the required permissions for this endpoint "
            f"on account '{ACCOUNT_ID}'. Having the '{permission}' permission would allow this request "
            "to continue.",
        )
