"""End-to-end fixtures: the real pipeline (Meltano, tap, target) against both stand-ins as processes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tap_stripe_billing.windows import WindowSettings

from local_pipeline import LocalPipeline
from local_pipeline.connect import local_start_date


@pytest.fixture
def pipeline(tmp_path: Any) -> Iterator[LocalPipeline]:
    with LocalPipeline(invoices=3000, seed=11, workdir=tmp_path, history_days=60) as running:
        yield running


def expected_invoice_ids(pipeline: LocalPipeline) -> set[str]:
    """Invoices KISSmetrics should have after a run now: paid in [start_date, clock - lag), with an email."""
    upper = pipeline.stripe.control("clock")["now"] - WindowSettings().lag  # the tap's default lag
    lower = local_start_date()
    truth = pipeline.stripe.control(f"truth/billed?paid_from={lower}&paid_before={upper}")
    return {record["invoice_id"] for record in truth if record["customer_email"]}


def delivered_invoice_ids(pipeline: LocalPipeline, event: str = "Subscription Billed") -> list[str]:
    """`Stripe Invoice ID` of every event of that name on the stand-in's de-duplicated dashboard."""
    return [e["properties"]["Stripe Invoice ID"] for e in pipeline.received() if e["event"] == event]
