"""Four everyday operations under `meltano run` (issue #15, Deliver): a stream selected weeks later, a
KISSmetrics key rotated, the project's state restored from a backup, the hourly job missed for 40 days.

Each ends with the KISSmetrics stand-in's de-duplicated view equal to the ground truth: 0 lost, 0 twice.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from local_pipeline import KISSMETRICS_KEY, LocalPipeline

from .conftest import (
    REFUNDED,
    Ledger,
    assert_billed_exact,
    assert_refunds_exact,
    expected_billed,
    run_ok,
    shown,
)

ROTATED_KEY = "km_rotated_SECRETCANARY_41c8e"


@pytest.mark.slow
def test_a_stream_selected_weeks_later_gets_its_history_once(pipeline: LocalPipeline) -> None:
    ledger = Ledger(pipeline)
    billed_only = json.dumps(["subscription_billed.*"])
    run_ok(pipeline, TAP_STRIPE_BILLING__SELECT=billed_only)
    ledger.after_run("billed")
    assert_billed_exact(pipeline, ledger.billed, "billed only")
    assert shown(pipeline, REFUNDED, "Stripe Refund ID") == {}, "refunds were not selected yet"

    pipeline.advance_hours(3 * 24 * 7)  # three weeks on, every stream selected (meltano.yml)
    run_ok(pipeline)
    ledger.after_run()  # refunds: their whole history from start_date
    assert len(ledger.refunds) > 10
    assert_refunds_exact(pipeline, ledger.refunds, "refunds selected three weeks later")
    assert_billed_exact(pipeline, ledger.billed, "billed, three weeks on")

    pipeline.advance_hours(1)
    run_ok(pipeline)
    ledger.after_run()
    assert_refunds_exact(pipeline, ledger.refunds, "an hour later")
    assert assert_billed_exact(pipeline, ledger.billed, "an hour later").resends == 0


@pytest.mark.slow
def test_a_rotated_kissmetrics_key_sends_everything_pending_with_the_new_key(pipeline: LocalPipeline) -> None:
    run_ok(pipeline)
    delivered_with_old_key = pipeline.kissmetrics.control("count")["requests"]

    # An hour later KISSmetrics refuses everything: the run fails, its events stay pending in the journal.
    pipeline.advance_hours(1)
    pipeline.kissmetrics.control("faults", {"rates": {"503": 1.0}})
    failed = pipeline.meltano_run(TARGET_KISSMETRICS_MAX_RETRIES="0")
    assert failed.returncode != 0
    pipeline.kissmetrics.control("faults", {})
    assert pipeline.kissmetrics.control("count")["requests"] == delivered_with_old_key

    # The key is rotated (.env / TARGET_KISSMETRICS_API_KEY) before the next run.
    pipeline.advance_hours(1)
    rotated = run_ok(pipeline, TARGET_KISSMETRICS_API_KEY=ROTATED_KEY)
    # The target re-sends what the failed run left pending, with its stored requests: at its start
    # ("Re-sending N pending events left by an earlier run") or when the replayed batch reaches them.
    assert (
        "pending events left by an earlier run" in rotated.stderr
        or "pending subscription_billed events with their stored requests" in rotated.stderr
    )
    result = assert_billed_exact(pipeline, expected_billed(pipeline), "after rotating the key")
    assert result.resends == 0
    keys = [dict(r["params"]).get("_k") for r in pipeline.kissmetrics.control("requests")]
    assert set(keys[:delivered_with_old_key]) == {KISSMETRICS_KEY}
    assert set(keys[delivered_with_old_key:]) == {ROTATED_KEY}, "nothing went out with the old key"
    assert len(keys) > delivered_with_old_key


def copy_state_files(source: Path, target: Path) -> list[str]:
    """Meltano's system database and the delivery journal (SQLite, with any -wal/-shm files)."""
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for path in sorted(source.glob("*.sqlite*")) + sorted(source.glob("meltano.db*")):
        shutil.copy2(path, target / path.name)
        copied.append(path.name)
    return copied


@pytest.mark.slow
def test_state_restored_from_a_backup_replays_without_counting_twice(
    pipeline: LocalPipeline, tmp_path: Path
) -> None:
    """State and journal are backed up together after a run, two more hourly runs follow, then the backup
    is restored: the next run re-reads those two hours and re-sends what the old journal does not know,
    byte for byte, so KISSmetrics' de-duplication shows each payment once."""
    run_ok(pipeline)
    backup = tmp_path / "backup"
    copied = copy_state_files(pipeline.workdir, backup)
    assert "meltano.db" in copied and "journal.sqlite" in copied
    for _ in range(2):
        pipeline.advance_hours(1)
        run_ok(pipeline)
    delivered = pipeline.kissmetrics.control("count")["requests"]

    for path in list(pipeline.workdir.glob("*.sqlite*")) + list(pipeline.workdir.glob("meltano.db*")):
        path.unlink()
    copy_state_files(backup, pipeline.workdir)
    pipeline.advance_hours(1)
    run_ok(pipeline)
    result = assert_billed_exact(pipeline, expected_billed(pipeline), "after restoring the backup")
    resent = pipeline.kissmetrics.control("count")["requests"] - delivered
    assert result.resends > 0 and resent > result.resends, "the two hours since the backup were replayed"


@pytest.mark.slow
def test_the_hourly_job_missed_for_40_days_catches_up_exactly(pipeline: LocalPipeline) -> None:
    ledger = Ledger(pipeline)
    run_ok(pipeline)
    ledger.after_run()
    pipeline.advance_hours(40 * 24)  # Stripe keeps events 30 days: the tap lists invoices again
    caught_up = run_ok(pipeline)
    assert "in backfill mode" in caught_up.stderr
    ledger.after_run()
    assert_billed_exact(pipeline, ledger.billed, "after 40 days without a run")
    assert_refunds_exact(pipeline, ledger.refunds, "refunds after 40 days")

    pipeline.advance_hours(1)
    run_ok(pipeline)
    ledger.after_run()
    assert assert_billed_exact(pipeline, ledger.billed, "an hour later").resends == 0
    assert_refunds_exact(pipeline, ledger.refunds, "refunds an hour later")
