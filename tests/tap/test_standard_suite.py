"""singer-sdk's standard tap tests, syncing against the Stripe stand-in (started before the suite)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class
from tap_stripe_billing.tap import TapStripeBilling
from tap_stripe_billing.windows import iso_utc

from stand_ins.stripe import LIVE_KEY, AccountConfig, StripeStandIn, generate_account


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


PORT = _free_port()
ACCOUNT_CONFIG = AccountConfig(seed=11, invoices=600)
NOW = ACCOUNT_CONFIG.now

CONFIG = {
    "api_key": LIVE_KEY,
    "api_url": f"http://127.0.0.1:{PORT}",
    "start_date": iso_utc(NOW - 60 * 86_400),
    "max_requests_per_second": 500,
    "max_requests_per_second_per_endpoint": 500,
}


@pytest.fixture(scope="module", autouse=True)
def stripe_stand_in() -> Iterator[StripeStandIn]:
    account = generate_account(ACCOUNT_CONFIG)
    with StripeStandIn(account, port=PORT) as server:
        yield server


TestTapStripeBilling = get_tap_test_class(
    TapStripeBilling,
    config=CONFIG,
    suite_config=SuiteConfig(max_records_limit=None),
)
