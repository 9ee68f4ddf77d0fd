"""singer-sdk's misleading "Stream is assumed to be unsorted, progress is not resumable" warning is
dropped (``sdk_logs.py``): once per stream and account per run, it was most of a Connect platform's
warnings. singer-sdk's other lines still go out."""

from __future__ import annotations

import logging

import pytest
from tap_stripe_billing.windows import iso_utc

from stand_ins.stripe import LIVE_KEY, AccountConfig, StripeStandIn, generate_account
from tests.tap.harness import run_tap

DAY = 86_400


def test_the_unsorted_stream_warning_is_dropped_and_other_sdk_lines_are_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    platform = generate_account(AccountConfig(seed=8, invoices=5, history_days=20, horizon_days=5))
    with StripeStandIn(platform) as server:
        server.connect(3, invoices=20)
        config = {
            "api_key": LIVE_KEY,
            "api_url": server.url,
            "start_date": iso_utc(server.account.now - 30 * DAY),
            "all_connected_accounts": True,
            "max_requests_per_second": 1000,
            "max_requests_per_second_per_endpoint": 1000,
        }
        with caplog.at_level(logging.INFO):
            result = run_tap(config, streams=None)
            logging.getLogger("singer_sdk").warning("another singer-sdk warning")
    assert len(result.records) > 0
    messages = [record.getMessage() for record in caplog.records]
    assert not [m for m in messages if "assumed to be unsorted" in m]
    assert "another singer-sdk warning" in messages
    assert any("Beginning" in m and "sync" in m for m in messages), "singer-sdk's info lines still go out"
