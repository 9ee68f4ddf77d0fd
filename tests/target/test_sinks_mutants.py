"""The sink's batching pinned where mutation testing (scripts/mutation.sh sinks) found it loose.

In process, against the KISSmetrics stand-in: duplicates within a batch, a batch sent in several chunks,
re-sent pending requests, dry-run lines. Counts come from the target's run summary.
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from target_kissmetrics import sinks
from target_kissmetrics.journal import Journal
from target_kissmetrics.target import TargetKissmetrics

from stand_ins.kissmetrics import KissmetricsStandIn
from tests.target.singer_input import billed, singer_lines
from tests.target.test_golden_requests import BILLED_USD

STATE = {"bookmarks": {"subscription_billed": {"replication_key_value": "2024-03-01T12:00:00Z"}}}


def _run(config: dict[str, Any], invoice_ids: list[str]) -> TargetKissmetrics:
    records = [("subscription_billed", billed(i, customer_email=f"{i}@example.com")) for i in invoice_ids]
    target = TargetKissmetrics(config=config)
    with redirect_stdout(io.StringIO()):
        target.listen(io.StringIO(singer_lines(records, STATE)))
    return target


def _counts(target: TargetKissmetrics) -> tuple[int, int, int]:
    summary = target.summary
    return summary.sent, summary.already_delivered, summary.failed


def test_duplicate_keys_in_one_batch_are_sent_once(
    standin: KissmetricsStandIn, config: dict[str, Any]
) -> None:
    target = _run(config, ["in_1", "in_1", "in_2", "in_1"])
    assert _counts(target) == (2, 2, 0)
    assert sorted(r.raw_query.split("&_p=")[1].split("&")[0] for r in standin.requests) == [
        "in_1%40example.com",
        "in_2%40example.com",
    ]


def test_a_batch_sent_in_chunks_is_sent_and_recorded_whole(
    standin: KissmetricsStandIn, config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sinks, "DISPATCH_CHUNK", 2)
    target = _run(config, ["in_1", "in_2", "in_3", "in_1", "in_4", "in_5"])
    assert _counts(target) == (5, 1, 0)
    assert len(standin.requests) == 5
    again = _run(config, ["in_1", "in_2", "in_3", "in_4", "in_5"])  # every one was journaled delivered
    assert _counts(again) == (0, 5, 0) and len(standin.requests) == 5


def test_pending_requests_are_re_sent_and_counted(
    standin: KissmetricsStandIn, config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    _run(config, ["in_9"])
    assert "Re-sending" not in caplog.text  # nothing pending: nothing re-sent
    journal = Journal(Path(config["journal_path"]), 60)
    journal.add_pending("subscription_billed", [("in_1", BILLED_USD), ("in_2", BILLED_USD + "&x=2")])
    journal.close()
    target = _run(config, ["in_1", "in_2", "in_3"])  # the pending two are re-sent first, then known
    assert _counts(target) == (3, 2, 0)
    assert "Re-sending 2 pending events left by an earlier run" in caplog.text


def test_dry_run_lines_name_the_request(
    standin: KissmetricsStandIn, config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    target = _run({**config, "dry_run": True}, ["in_1"])
    [line] = [r.getMessage() for r in caplog.records if "dry run" in r.getMessage()]
    assert line.startswith(f"dry run, not sent: GET {standin.url}/e?_k=REDACTED&_p=in_1%40example.com&")
    assert target.summary.dry_run == 1 and standin.requests == []
