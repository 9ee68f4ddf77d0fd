"""Delivery against the stand-in: byte-identical requests, retries, fatal answers, journal and replays."""

from __future__ import annotations

import io
import sqlite3
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from target_kissmetrics.errors import ConfigError, DeliveryFailed
from target_kissmetrics.journal import Journal
from target_kissmetrics.target import TargetKissmetrics
from target_kissmetrics.transport import Transport

from stand_ins.kissmetrics import KissmetricsStandIn
from tests.target.conftest import run_in_process
from tests.target.singer_input import KEY, billed, canceled, changed, refunded, singer_lines
from tests.target.test_golden_requests import BILLED_USD

STATE = {"bookmarks": {"subscription_billed": {"replication_key_value": "2024-03-01T12:00:00Z"}}}


def mixed_input(count: int = 30) -> str:
    records: list[tuple[str, dict[str, Any]]] = [
        ("subscription_billed", billed(f"in_{i}", customer_email=f"user{i}@example.com", amount=i + 0.5))
        for i in range(count)
    ]
    records += [
        ("subscription_billed", billed("in_noemail", customer_email=None)),
        ("subscription_changed", changed()),
        ("subscription_canceled", canceled()),
        ("subscription_refunded", refunded()),
    ]
    return singer_lines(records, STATE)


def test_requests_are_exactly_the_golden_bytes(standin: KissmetricsStandIn, config: dict[str, Any]) -> None:
    states = run_in_process(config, singer_lines([("subscription_billed", billed())], STATE))
    assert len(states) == 1
    [request] = standin.requests
    assert request.raw_query == f"_k={KEY}&{BILLED_USD}"
    assert standin.violations() == []


def test_all_streams_delivered_and_no_violations(standin: KissmetricsStandIn, config: dict[str, Any]) -> None:
    states = run_in_process(config, mixed_input())
    assert states and '"replication_key_value"' in states[-1]
    assert len(standin.requests) == 33  # the record with no email is skipped
    assert standin.violations() == []
    names = standin.summary()["events_by_name"]
    assert names == {
        "Refunded": 1,
        "Subscription Billed": 30,
        "Subscription Canceled": 1,
        "Subscription Upgraded": 1,
    }


def test_same_input_twice_fresh_journal_same_requests(
    standin: KissmetricsStandIn, config: dict[str, Any], tmp_path: Path
) -> None:
    run_in_process(config, mixed_input())
    first = sorted(r.raw_query for r in standin.requests)
    standin.reset()
    run_in_process({**config, "journal_path": str(tmp_path / "other.sqlite")}, mixed_input())
    second = sorted(r.raw_query for r in standin.requests)
    assert first == second and len(first) == 33


def test_same_input_twice_same_journal_sends_nothing_again(
    standin: KissmetricsStandIn, config: dict[str, Any]
) -> None:
    run_in_process(config, mixed_input())
    assert len(standin.requests) == 33
    target = TargetKissmetrics(config=config)
    with redirect_stdout(io.StringIO()) as out:
        target.listen(io.StringIO(mixed_input()))
    assert len(standin.requests) == 33  # zero re-sends
    assert target.summary.sent == 0 and target.summary.already_delivered == 33
    assert '"replication_key_value"' in out.getvalue()  # state still moves on


def test_drifted_replay_after_a_crash_resends_the_stored_request(
    standin: KissmetricsStandIn, config: dict[str, Any]
) -> None:
    # A crash after the journal stored the request as pending, before it was recorded as delivered.
    original = singer_lines([("subscription_billed", billed())], STATE)
    journal = Journal(Path(config["journal_path"]), 60)
    journal.add_pending("subscription_billed", [("in_1", BILLED_USD)])
    journal.close()
    # Replayed later with drifted data: plan renamed, email changed.
    drifted = billed(plan_level="Pro (2025)", customer_email="alice.new@example.com")
    run_in_process(config, singer_lines([("subscription_billed", drifted)], STATE))
    [request] = standin.requests
    assert request.raw_query == f"_k={KEY}&{BILLED_USD}"  # the stored bytes, not a rebuild
    # Suppose the first attempt did reach KISSmetrics before the crash: still one event on the dashboard.
    run_in_process({**config, "journal_path": config["journal_path"] + ".fresh"}, original)
    assert len(standin.requests) == 2 and len(standin.dashboard()) == 1
    with sqlite3.connect(config["journal_path"]) as db:
        assert db.execute("SELECT status FROM deliveries").fetchall() == [("delivered",)]


def test_503_and_dropped_connections_are_retried(standin: KissmetricsStandIn, config: dict[str, Any]) -> None:
    standin.faults.configure(schedule={1: "503", 2: "drop", 3: "503", 5: "drop"})
    target = TargetKissmetrics(config=config)
    with redirect_stdout(io.StringIO()):
        target.listen(io.StringIO(mixed_input(10)))
    assert target.summary.sent == 13 and target.summary.failed == 0
    assert target.summary.retried == 4
    assert len(standin.dashboard()) == 13


def test_slow_answer_times_out_and_is_retried_without_double_counting(standin: KissmetricsStandIn) -> None:
    standin.slow_seconds = 0.6
    standin.faults.configure(schedule={1: "slow"})
    transport = Transport(standin.url, KEY, max_concurrency=1, timeout_seconds=0.2, backoff_base_seconds=0.01)
    try:
        report = transport.deliver([BILLED_USD])
    finally:
        transport.close()
    assert report.delivered == [0] and report.retried == 1
    time.sleep(0.6)
    assert len(standin.requests) == 2  # the slow one was processed too...
    assert len(standin.dashboard()) == 1  # ...and KISSmetrics counts the identical retry once


def test_retries_exhausted_fail_the_batch(standin: KissmetricsStandIn, config: dict[str, Any]) -> None:
    standin.faults.configure(rates={"503": 1.0})
    target = TargetKissmetrics(config={**config, "max_retries": 2})
    with (
        redirect_stdout(io.StringIO()) as out,
        pytest.raises(DeliveryFailed, match="HTTP 503 after 2 retries"),
    ):
        target.listen(io.StringIO(mixed_input(5)))
    assert out.getvalue() == ""  # no STATE
    assert target.summary.sent == 0 and target.summary.failed >= 1


def test_non_retryable_answer_is_fatal_at_once(standin: KissmetricsStandIn) -> None:
    transport = Transport(standin.url + "/wrong-path", KEY, max_concurrency=4, backoff_base_seconds=0.01)
    try:
        report = transport.deliver([BILLED_USD] * 20)
    finally:
        transport.close()
    assert report.retried == 0 and report.delivered == []
    assert report.first_error == "HTTP 404 (not retryable)"
    assert len(report.failed) == 20


def test_user_agent_names_the_target_and_its_version(
    standin: KissmetricsStandIn, config: dict[str, Any]
) -> None:
    import target_kissmetrics

    run_in_process(config, singer_lines([("subscription_billed", billed())], STATE))
    [request] = standin.requests
    assert request.user_agent == f"target-kissmetrics/{target_kissmetrics.__version__}"


def test_dry_run_sends_nothing_leaves_no_journal_and_prints_no_state(
    standin: KissmetricsStandIn, config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    states = run_in_process({**config, "dry_run": True}, mixed_input(3))
    assert standin.requests == []
    assert not Path(config["journal_path"]).exists()
    assert states == []  # no STATE: Meltano must not save a bookmark for what was not sent (#15 item 3)
    lines = [r.getMessage() for r in caplog.records if "dry run" in r.getMessage()]
    assert len(lines) == 6
    assert all("/e?_k=REDACTED&_p=" in line for line in lines)
    assert KEY not in caplog.text


def test_unknown_stream_is_a_config_error(config: dict[str, Any]) -> None:
    text = (
        '{"type":"SCHEMA","stream":"invoices","schema":{"properties":{"id":{"type":"string"}}},'
        '"key_properties":["id"]}\n'
    )
    with pytest.raises(ConfigError, match="no event mapping; known streams: subscription_billed"):
        run_in_process(config, text)


def test_journal_prunes_old_entries(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite", 60)
    journal.add_pending("s", [("a", "q")])
    journal.mark_delivered("s", ["a"])
    journal.close()
    with sqlite3.connect(tmp_path / "j.sqlite") as db:
        db.execute("UPDATE deliveries SET updated_at = updated_at - 61 * 86400")
    journal = Journal(tmp_path / "j.sqlite", 60)
    assert journal.pruned == 1 and journal.counts() == {}
    journal.close()
