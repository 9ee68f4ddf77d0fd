"""singer-sdk's standard tap tests, syncing against the Stripe stand-in (started before the suite)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class
from tap_stripe_billing.tap import TapStripeBilling
from tap_stripe_billing.windows import iso_utc

from stand_ins.stripe import LIVE_KEY, AccountConfig, StripeStandIn, generate_account

ACCOUNT_CONFIG = AccountConfig(seed=11, invoices=600)
NOW = ACCOUNT_CONFIG.now

# The suite's runner keeps this very dict and builds its taps from it when the tests run: api_url is
# set once the stand-in is listening on the port the system gave it (bound to port 0, never guessed).
CONFIG = {
    "api_key": LIVE_KEY,
    "api_url": "http://127.0.0.1:9",  # replaced by the fixture below before any sync
    "start_date": iso_utc(NOW - 60 * 86_400),
    "max_requests_per_second": 500,
    "max_requests_per_second_per_endpoint": 500,
}


@pytest.fixture(scope="module", autouse=True)
def stripe_stand_in() -> Iterator[StripeStandIn]:
    account = generate_account(ACCOUNT_CONFIG)
    with StripeStandIn(account, port=0) as server:
        CONFIG["api_url"] = server.url
        yield server
        assert server.stats(), "the suite never reached the stand-in"


TestTapStripeBilling = get_tap_test_class(
    TapStripeBilling,
    config=CONFIG,
    suite_config=SuiteConfig(max_records_limit=None),
)
