"""`meltano run stripe-to-kissmetrics`, twice with Stripe's clock advanced, as a user runs it hourly."""

from __future__ import annotations

import pytest

from local_pipeline import KISSMETRICS_KEY, LocalPipeline

from .conftest import delivered_invoice_ids, expected_invoice_ids

pytestmark = pytest.mark.slow  # meltano run against the stand-ins as processes


def test_two_hourly_meltano_runs_deliver_each_payment_exactly_once(pipeline: LocalPipeline) -> None:
    first = pipeline.meltano_run()
    assert first.returncode == 0, first.stderr[-3000:]
    after_first = delivered_invoice_ids(pipeline)
    assert sorted(after_first) == sorted(expected_invoice_ids(pipeline))
    assert len(after_first) > 50

    pipeline.advance_hours(1)
    second = pipeline.meltano_run()
    assert second.returncode == 0, second.stderr[-3000:]
    after_second = delivered_invoice_ids(pipeline)
    expected = expected_invoice_ids(pipeline)
    assert sorted(after_second) == sorted(expected)
    assert len(expected) > len(after_first), "an hour later there are new payments"

    # Nothing was sent twice (raw requests, not only the de-duplicated view) and nothing broke a rule.
    requests = pipeline.kissmetrics.control("requests")
    billed = [r for r in requests if dict(r["params"]).get("_n") == "Subscription Billed"]
    assert len(billed) == len(after_second)
    assert pipeline.kissmetrics.control("violations") == []

    # State lives in Meltano's system database, under the documented state id.
    states = pipeline.meltano("state", "list")
    assert "local:tap-stripe-billing-to-target-kissmetrics" in states.stdout + states.stderr

    # No key in anything Meltano printed.
    for output in (first.stdout, first.stderr, second.stdout, second.stderr):
        assert KISSMETRICS_KEY not in output
        assert pipeline.stripe_key not in output
