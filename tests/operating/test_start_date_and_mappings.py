"""start_date moved earlier (issue #15, item 7) and event_mappings (item 5), under `meltano run`."""

from __future__ import annotations

import json

import pytest

from local_pipeline import LocalPipeline
from tests.e2e.operations import assert_no_traceback

from .conftest import BILLED, assert_billed_exact, expected_billed, run_ok

LATER_START = "2026-10-01T00:00:00Z"


@pytest.mark.slow
def test_start_date_moved_earlier_backfills_the_missing_range_once(pipeline: LocalPipeline) -> None:
    run_ok(pipeline, TAP_STRIPE_BILLING_START_DATE=LATER_START)
    first = expected_billed(pipeline, LATER_START)
    assert_billed_exact(pipeline, first, "from the later start_date")

    # An hour later start_date goes back a month (to the meltano.yml value): that month arrives, once.
    pipeline.advance_hours(1)
    moved = run_ok(pipeline)
    assert "start_date is earlier than the history already read" in moved.stderr
    everything = expected_billed(pipeline)
    assert len(everything) - len(expected_billed(pipeline, LATER_START)) > 200, "a month of payments"
    assert_billed_exact(pipeline, everything, "after moving start_date earlier")

    # The next hour is ordinary: nothing read twice, nothing sent twice.
    pipeline.advance_hours(1)
    again = run_ok(pipeline)
    assert "earlier than the history" not in again.stderr
    result = assert_billed_exact(pipeline, expected_billed(pipeline), "an hour later")
    assert result.resends == 0


@pytest.mark.slow
def test_event_mappings_a_missing_field_stops_the_run_and_an_added_property_keeps_the_revenue(
    pipeline: LocalPipeline,
) -> None:
    # A misspelt identity field: the run stops at the SCHEMA, nothing is sent, no state is saved.
    misspelt = {"subscription_billed": {"identity_field": "email"}}
    failed = pipeline.meltano_run(TARGET_KISSMETRICS_EVENT_MAPPINGS=json.dumps(misspelt))
    assert failed.returncode != 0
    output = failed.stdout + failed.stderr
    assert "event_mappings.subscription_billed: identity_field names field 'email'" in output
    assert_no_traceback(output)
    assert pipeline.kissmetrics.control("count")["requests"] == 0
    states = pipeline.meltano("state", "list")
    assert "local:tap-stripe-billing-to-target-kissmetrics" not in states.stdout, "no state was saved"

    # Fixed to add one property: every built-in property stays, amounts included.
    added = {"subscription_billed": {"properties": {"Stripe Customer ID": "customer_id"}}}
    run_ok(pipeline, TARGET_KISSMETRICS_EVENT_MAPPINGS=json.dumps(added))
    expected = expected_billed(pipeline)
    assert_billed_exact(pipeline, expected, "with an added property")  # amounts and plans checked
    for event in pipeline.received():
        if event["event"] == BILLED:
            props = event["properties"]
            assert props["Stripe Customer ID"] == expected[props["Stripe Invoice ID"]]["customer_id"]
            assert props["Subscription Billing Amount"] == props["Billing Amount"]
            assert props["Subscription Billing Length"] and props["Subscription Billing Currency"]
