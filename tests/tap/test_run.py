"""One run, one client, one clock: the Tap builds them once and every stream shares them; the clock is
read once per run and costs no request of its own when the run's first request brings Stripe's Date."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import pytest
from tap_stripe_billing.errors import ConfigError
from tap_stripe_billing.run import RunClock
from tap_stripe_billing.settings import Settings
from tap_stripe_billing.tap import TapStripeBilling

from stand_ins.stripe import LIVE_KEY, AccountConfig, StripeStandIn, generate_account


class Source:
    def __init__(self) -> None:
        self.reads = 0

    def clock(self) -> int:
        self.reads += 1
        return 1_800_000_000 + self.reads


def test_run_clock_reads_once() -> None:
    source = Source()
    clock = RunClock(source)
    assert not clock.is_read
    assert clock.now() == clock.now() == 1_800_000_001
    assert clock.is_read and source.reads == 1


def test_settings_are_frozen_trimmed_and_defaulted_from_the_schema() -> None:
    settings = Settings.from_config({"api_key": f"  {LIVE_KEY}\n", "lag_minutes": "7"})
    assert settings.api_key == LIVE_KEY
    assert settings.lag_minutes == 7
    assert settings.max_requests_per_second == 20 and settings.backfill_parallelism == 16
    assert LIVE_KEY not in repr(settings)
    with pytest.raises(AttributeError):
        settings.lag_minutes = 1  # type: ignore[misc]
    with pytest.raises(ConfigError, match="lag_minutes must be a whole number"):
        Settings.from_config({"api_key": LIVE_KEY, "lag_minutes": "soon"})


def _run(config: dict[str, Any], state: dict[str, Any]) -> tuple[TapStripeBilling, dict[str, Any]]:
    tap = TapStripeBilling(config=config, state=state)
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        tap.sync_all()
    states = [json.loads(line)["value"] for line in out.getvalue().splitlines() if '"type":"STATE"' in line]
    return tap, states[-1]


@pytest.mark.slow
def test_all_streams_share_one_client_and_one_clock() -> None:
    account = generate_account(AccountConfig(seed=11, invoices=600, history_days=60, horizon_days=3))
    with StripeStandIn(account, port=0) as server:
        config = {
            "api_key": f" {LIVE_KEY} ",  # trimmed once: the key sent is the key checked
            "api_url": server.url,
            "max_requests_per_second": 1000,
            "max_requests_per_second_per_endpoint": 1000,
        }
        tap, state = _run(config, {})
        streams = list(tap.streams.values())
        assert {id(s.api) for s in streams} == {id(tap.run.api)}
        assert {s.start.plan.upper for s in streams} == {tap.run.clock.now() - 300}
        # The streams' summaries split the shared client's counts between them, nothing left over.
        total: dict[str, int] = {}
        for stream in streams:
            for endpoint, count in stream.summary["requests"].items():
                total[endpoint] = total.get(endpoint, 0) + count
        assert total == tap.run.api.request_summary() == server.stats()

        account.advance(hours=1)
        server.reset_stats()
        tap, _ = _run(config, state)
        billed = tap.streams["subscription_billed"].summary["requests"]
        # An hourly run: the first events page (asked before the clock was known) gave Stripe's Date;
        # no clock probe (a paid-invoice list request) was made.
        assert "GET /v1/invoices" not in billed
        assert billed["GET /v1/events"] >= 1
        assert sum(server.stats().values()) == sum(tap.run.api.request_summary().values())
