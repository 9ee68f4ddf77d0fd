"""Local Stripe stand-in: a seeded account generator, a loopback REST server and the ground truth."""

from .account import Account
from .config import AccountConfig
from .generator import generate_account
from .keys import LIVE_KEY, RESTRICTED_LIVE_KEY, RESTRICTED_NO_INVOICES_KEY, TEST_KEY
from .server import StripeStandIn
from .truth import expected_billed, expected_refunds
from .truth_lifecycle import expected_cancellations, expected_changes

__all__ = [
    "LIVE_KEY",
    "RESTRICTED_LIVE_KEY",
    "RESTRICTED_NO_INVOICES_KEY",
    "TEST_KEY",
    "Account",
    "AccountConfig",
    "StripeStandIn",
    "expected_billed",
    "expected_cancellations",
    "expected_changes",
    "expected_refunds",
    "generate_account",
]
