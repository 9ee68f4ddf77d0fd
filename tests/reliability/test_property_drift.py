"""No double count when a record's properties change between a crash and its replay.

KISSmetrics de-duplicates on person, event, ``_t`` *and* every property, so a replayed payment whose
price was renamed (or whose customer changed email) in between would count twice if the target rebuilt
its request. The target's journal stores each request as ``pending`` before sending it and re-sends the
stored bytes on replay, and skips keys it recorded as ``delivered``. Proven end to end here: the target
is killed mid-delivery, every price is renamed and every customer's email changed on the Stripe
stand-in (``POST /_standin/mutate``), the pipeline runs again, and KISSmetrics still shows each payment
exactly once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_pipeline import LocalPipeline
from tests.reliability.conftest import reset_kissmetrics, shared_pipeline
from tests.reliability.harness import (
    FIGURES,
    Cell,
    Kill,
    assert_exact,
    billed_requests,
    dashboard_billed,
    expected_billed,
    tally,
)

pytestmark = pytest.mark.slow  # real processes against stand-ins


@pytest.fixture
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPipeline]:
    # Function scope: the test changes the account's data.
    yield from shared_pipeline(tmp_path_factory, invoices=250, seed=41)


def journal_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status").fetchall())


def test_replay_after_a_crash_resends_stored_bytes_despite_renamed_prices_and_changed_emails(
    pipeline: LocalPipeline, catalog: Path, tmp_path: Path
) -> None:
    reset_kissmetrics(pipeline)
    pipeline.kissmetrics.control("latency", {"ms": 5})
    before = expected_billed(pipeline)
    cell = Cell(pipeline, tmp_path / "cell", catalog, target_extra={"max_concurrency": 2})

    crashed = cell.run(kill=Kill("target", after_requests=len(before) // 2))
    assert crashed.killed and cell.state() is None  # killed mid-delivery: no STATE was printed
    pending = journal_counts(cell.journal_path).get("pending", 0)
    assert pending == len(before), "the whole batch was journalled as pending before sending"
    sent_at_crash = {
        dict(r["params"])["Stripe Invoice ID"]: r["raw_query"] for r in billed_requests(pipeline)
    }
    assert 0 < len(sent_at_crash) < len(before)

    changed = pipeline.stripe.control(
        "mutate", {"price_nickname_suffix": " (renamed)", "customer_email_prefix": "changed."}
    )
    assert changed["prices_renamed"] > 0 and changed["customer_emails_changed"] > 0
    after = expected_billed(pipeline)
    assert set(after) == set(before)
    drifted = [i for i in before if before[i]["plan_level"] != after[i]["plan_level"]]
    assert len(drifted) == len(before), "every payment's plan level changed"

    rerun = cell.run()
    assert rerun.ok, rerun.target_stderr[-2000:]
    assert "Re-sending" in rerun.target_stderr
    assert journal_counts(cell.journal_path) == {"delivered": len(before)}

    # Each payment exactly once, with the request as first built (the pre-rename values).
    result = tally(pipeline, before)
    assert_exact(result, "replay with drifted properties")
    for request in billed_requests(pipeline):
        invoice_id = dict(request["params"])["Stripe Invoice ID"]
        if invoice_id in sent_at_crash:
            assert request["raw_query"] == sent_at_crash[invoice_id], "a re-send differs from the first send"
    plan_levels = {
        e["properties"]["Stripe Invoice ID"]: e["properties"]["Subscription Plan Level"]
        for e in dashboard_billed(pipeline)
    }
    assert all(not level.endswith(" (renamed)") for level in plan_levels.values())

    # Later, state lost (or cleared): the tap re-reads everything, now with the new names; the journal
    # knows every key as delivered and nothing at all is sent.
    cell.state_path.unlink()
    requests_before = len(billed_requests(pipeline))
    replay = cell.run()
    assert replay.ok
    assert "already_delivered=" + str(len(before)) in replay.target_stderr
    assert len(billed_requests(pipeline)) == requests_before
    assert_exact(tally(pipeline, before), "full replay after state loss")
    FIGURES["drift"].append(
        {
            "payments": len(before),
            "sent_before_crash": len(sent_at_crash),
            "pending_at_crash": pending,
            "renamed": len(drifted),
            "raw_requests": result.raw_requests,
            "resends": result.resends,
            "extra_events": result.shown - result.expected,
            "sent_on_full_replay": 0,
        }
    )
