"""Going live after a test-mode trial (issue #15, item 4), under `meltano run`.

The trial's state belongs to test mode (the key's prefix says so): the live key does not resume from it
but reads the live history from start_date, and the trial's events stay told apart in KISSmetrics by
``Stripe Mode=test``, which live events never carry.
"""

from __future__ import annotations

import json

import pytest

from local_pipeline import LocalPipeline
from stand_ins.stripe import TEST_KEY

from .conftest import BILLED, assert_billed_exact, expected_billed, run_ok

STATE_ID = "local:tap-stripe-billing-to-target-kissmetrics"


def saved_state(pipeline: LocalPipeline) -> dict[str, object]:
    done = pipeline.meltano("state", "get", STATE_ID)
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout)["singer_state"]["bookmarks"]["subscription_billed"])


@pytest.mark.slow
def test_going_live_after_a_test_mode_trial_imports_the_live_history(pipeline: LocalPipeline) -> None:
    run_ok(pipeline, TAP_STRIPE_BILLING_API_KEY=TEST_KEY, TAP_STRIPE_BILLING_ALLOW_TEST_MODE="true")
    trial = {k: v for k, v in expected_billed(pipeline, include_test=True).items() if not v["livemode"]}
    assert len(trial) > 10
    assert_billed_exact(pipeline, trial, "after the test-mode trial")
    assert saved_state(pipeline)["binding"] == {"stripe_mode": "test"}

    # Going live: the live key, allow_test_mode back to its default (false), same Meltano state id.
    pipeline.advance_hours(1)
    live_run = run_ok(pipeline)
    assert "belongs to another Stripe key (stripe_mode test -> live)" in live_run.stderr
    live = expected_billed(pipeline)
    assert len(live) > 500
    assert_billed_exact(pipeline, {**live, **trial}, "after going live")

    # Test events are marked, live ones carry nothing extra.
    for event in pipeline.received():
        if event["event"] != BILLED:
            continue
        mode = event["properties"].get("Stripe Mode")
        assert mode == ("test" if event["properties"]["Stripe Invoice ID"] in trial else None), event
    state = saved_state(pipeline)
    assert state["binding"] == {"stripe_mode": "live"}
    assert "stripe_mode=test" in state["parked"]  # type: ignore[operator]

    # The next hour is ordinary: events mode, nothing sent twice.
    pipeline.advance_hours(1)
    hourly = run_ok(pipeline)
    assert "another Stripe key" not in hourly.stderr
    result = assert_billed_exact(pipeline, {**expected_billed(pipeline), **trial}, "an hour later")
    assert result.resends == 0
