"""The run's deliveries (``delivery.DeliveryRun``) on their own: journal, transport and stop request faked.

What is journaled, sent, counted and raised, in which order: events journaled as pending before they are
sent, the first record of a key wins, delivered keys are not sent again, pending ones are re-sent with
their stored bytes, only delivered requests are recorded as delivered, and a stop request ends the run
without sending more. Pinned where mutation testing (scripts/mutation.sh delivery) found it loose.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from typing import Any, cast

import pytest
from target_kissmetrics.delivery import Batch, DeliveryRun
from target_kissmetrics.errors import DeliveryFailed, Interrupted
from target_kissmetrics.events import BuiltEvent
from target_kissmetrics.interrupt import StopRequest
from target_kissmetrics.journal import BUSY, DELIVERED, NEW, RESEND, Journal
from target_kissmetrics.summary import RunSummary
from target_kissmetrics.transport import DeliveryReport, Transport

STREAM = "subscription_billed"


class _Journal:
    """In memory, one worker: (stream, key) → (status, request). ``pending`` rows are an earlier run's
    (orphans), ``claimed`` ones this run's; ``log`` lists what was asked, in order."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], tuple[str, str]] = {}
        self.log: list[tuple[str, Any]] = []

    def claim(self, stream: str, rows: list[tuple[str, str]]) -> dict[str, tuple[str, str]]:
        outcome: dict[str, tuple[str, str]] = {}
        for key, request in rows:
            status, stored = self.rows.get((stream, key), (None, request))
            if status is None:
                outcome[key] = (NEW, request)
            elif status == "pending":
                outcome[key] = (RESEND, stored)
            else:
                outcome[key] = (DELIVERED if status == DELIVERED else BUSY, stored)
            if status in (None, "pending"):
                self.rows[(stream, key)] = ("claimed", stored)
        new = [key for key, (what, _) in outcome.items() if what == NEW]
        if new:
            self.log.append(("pending", new))
        return outcome

    def claim_orphans(self) -> list[tuple[str, str, str]]:
        orphans = [(s, k, request) for (s, k), (status, request) in self.rows.items() if status == "pending"]
        for stream, key, request in orphans:
            self.rows[(stream, key)] = ("claimed", request)
        return orphans

    def mark_delivered(self, stream: str, keys: list[str]) -> None:
        self.log.append(("delivered", list(keys)))
        for key in keys:
            self.rows[(stream, key)] = (DELIVERED, self.rows[(stream, key)][1])

    def undelivered(self) -> list[str]:
        return [key for (_, key), (status, _) in self.rows.items() if status != DELIVERED]


class _Delivery:
    def __init__(self) -> None:
        self.queries: list[str] = []


class _Transport:
    """Delivers every query but those in ``failing``; ``log`` lists the sends, ``polled`` the stop polls."""

    def __init__(self, journal: _Journal, failing: tuple[str, ...] = (), retried: int = 0) -> None:
        self.journal = journal
        self.failing = failing
        self.retried = retried
        self.started = 0
        self.halted = False
        self.polled: list[bool] = []
        self.on_wait: Callable[[], None] = lambda: None

    def start(self) -> _Delivery:
        self.started += 1
        return _Delivery()

    def send(self, delivery: _Delivery, queries: list[str]) -> None:
        self.journal.log.append(("send", list(queries)))
        delivery.queries.extend(queries)

    def wait(self, delivery: _Delivery, halt_when: Callable[[], bool] | None = None) -> DeliveryReport:
        self.on_wait()
        if halt_when is not None:
            self.polled.append(halt_when())
        report = DeliveryReport(retried=self.retried)
        for index, query in enumerate(delivery.queries):
            if query in self.failing:
                report.failed.append(index)
                report.first_error = report.first_error or "HTTP 503 after 6 retries"
            else:
                report.delivered.append(index)
        return report

    def halt(self) -> None:
        self.halted = True


def _run(
    failing: tuple[str, ...] = (), retried: int = 0
) -> tuple[DeliveryRun, _Journal, _Transport, RunSummary, StopRequest]:
    journal = _Journal()
    transport = _Transport(journal, failing, retried)
    summary, stop = RunSummary(), StopRequest()
    run = DeliveryRun(
        cast(Journal, journal), cast(Transport, transport), summary, stop, logging.getLogger("test-delivery")
    )
    return run, journal, transport, summary, stop


def _batch(*keys: str) -> Batch:
    return Batch(STREAM, [BuiltEvent(key, f"q-{key}") for key in keys])


def _counts(summary: RunSummary) -> tuple[int, int, int, int]:
    return summary.sent, summary.retried, summary.already_delivered, summary.failed


def test_events_are_journaled_pending_before_they_are_sent_then_recorded_delivered() -> None:
    run, journal, transport, summary, _ = _run(retried=3)
    batch = _batch("a", "b", "a", "c", "b")
    run.finish(batch)
    assert journal.log == [
        ("pending", ["a", "b", "c"]),
        ("send", ["q-a", "q-b", "q-c"]),
        ("delivered", ["a", "b", "c"]),
    ]
    assert _counts(summary) == (3, 3, 2, 0)  # the repeated a and b: the first record of a key wins
    assert transport.started == 1 and transport.polled == [False]


def test_the_first_record_of_a_key_wins_across_the_chunks_of_a_batch() -> None:
    run, journal, _, summary, _ = _run()
    batch = _batch("a", "b")
    run.dispatch(batch)
    batch.events += [BuiltEvent("a", "q-a-later"), BuiltEvent("c", "q-c")]
    run.dispatch(batch)
    run.dispatch(batch)  # nothing new: nothing journaled or sent
    run.finish(batch)
    assert journal.log == [
        ("pending", ["a", "b"]),
        ("send", ["q-a", "q-b"]),
        ("pending", ["c"]),
        ("send", ["q-c"]),
        ("delivered", ["a", "b", "c"]),
    ]
    assert _counts(summary) == (3, 0, 1, 0)


def test_delivered_keys_are_not_sent_and_pending_ones_are_re_sent_with_their_stored_bytes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", "test-delivery")
    run, journal, _, summary, _ = _run()
    journal.rows[(STREAM, "old")] = (DELIVERED, "q-old-stored")
    journal.rows[(STREAM, "stuck")] = ("pending", "q-stuck-stored")
    journal.rows[(STREAM, "stuck2")] = ("pending", "q-stuck2-stored")
    journal.rows[("other_stream", "new")] = (DELIVERED, "q-other")  # another stream's key is not this one
    journal.rows[(STREAM, "busy")] = ("claimed", "q-busy")  # another live worker is sending it
    run.finish(_batch("old", "stuck", "new", "busy", "stuck2"))
    assert journal.log == [
        ("pending", ["new"]),
        ("send", ["q-stuck-stored", "q-new", "q-stuck2-stored"]),
        ("delivered", ["stuck", "new", "stuck2"]),
    ]
    assert _counts(summary) == (3, 0, 2, 0)
    assert f"Re-sent 2 pending {STREAM} events with their stored requests" in caplog.messages


def test_a_batch_without_pending_re_sends_logs_nothing_about_them(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", "test-delivery")
    run, *_ = _run()
    run.finish(_batch("a"))
    assert "Re-sent" not in caplog.text


def test_only_delivered_requests_are_recorded_and_the_failure_is_one_line() -> None:
    run, journal, _, summary, _ = _run(failing=("q-b",))
    with pytest.raises(DeliveryFailed) as failed:
        run.finish(_batch("a", "b", "c"))
    assert str(failed.value) == f"1 of 3 {STREAM} events were not delivered (HTTP 503 after 6 retries)"
    assert journal.log[-1] == ("delivered", ["a", "c"])
    assert journal.undelivered() == ["b"]  # the next run re-sends it
    assert _counts(summary) == (2, 0, 0, 1)


def test_an_empty_batch_sends_nothing_and_a_settled_batch_is_not_settled_twice() -> None:
    run, journal, transport, summary, _ = _run()
    run.finish(Batch(STREAM))
    assert journal.log == [] and transport.started == 0
    batch = _batch("a")
    run.finish(batch)
    run.settle_all()  # the batch was settled already: nothing recorded again
    assert journal.log.count(("delivered", ["a"])) == 1 and _counts(summary) == (1, 0, 0, 0)


def test_a_stop_request_before_sending_sends_nothing() -> None:
    run, journal, transport, _, stop = _run()
    stop.request(signal.SIGTERM)
    with pytest.raises(Interrupted, match=r"^Interrupted by SIGTERM: stopped reading input;"):
        run.dispatch(_batch("a"))
    assert journal.log == [] and transport.started == 0


def test_a_stop_request_while_waiting_is_polled_and_ends_the_run_after_recording() -> None:
    run, journal, transport, summary, stop = _run()
    transport.on_wait = lambda: stop.request(signal.SIGINT)
    with pytest.raises(Interrupted, match=r"^Interrupted by SIGINT: events in flight finished, nothing more"):
        run.finish(_batch("a"))
    assert transport.polled == [True]
    assert journal.log[-1] == ("delivered", ["a"]) and summary.sent == 1


def test_after_an_early_stop_open_batches_are_halted_and_what_they_delivered_recorded() -> None:
    run, journal, transport, summary, _ = _run()
    first, second = _batch("a"), _batch("b", "c")
    run.dispatch(first)
    run.dispatch(second)
    run.settle_all()
    assert transport.halted
    assert journal.log[-2:] == [("delivered", ["a"]), ("delivered", ["b", "c"])]
    assert _counts(summary) == (3, 0, 0, 0)


def test_pending_events_of_an_earlier_run_are_re_sent_by_stream(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", "test-delivery")
    run, journal, transport, summary, _ = _run()
    run.recover_pending()  # nothing pending: nothing started, nothing said
    assert transport.started == 0 and "Re-sending" not in caplog.text
    journal.rows[(STREAM, "a")] = ("pending", "q-a-stored")
    journal.rows[("subscription_refunded", "r")] = ("pending", "q-r-stored")
    journal.rows[(STREAM, "b")] = ("pending", "q-b-stored")
    journal.rows[(STREAM, "done")] = (DELIVERED, "q-done")
    run.recover_pending()
    assert "Re-sending 3 pending events left by an earlier run" in caplog.messages
    assert transport.started == 2
    assert sorted(entry for entry in journal.log if entry[0] == "send") == [
        ("send", ["q-a-stored", "q-b-stored"]),
        ("send", ["q-r-stored"]),
    ]
    assert journal.undelivered() == [] and _counts(summary) == (3, 0, 0, 0)


def test_pending_events_that_still_fail_fail_the_run() -> None:
    run, journal, _, summary, _ = _run(failing=("q-a-stored", "q-b-stored"))
    journal.rows[(STREAM, "a")] = ("pending", "q-a-stored")
    journal.rows[(STREAM, "b")] = ("pending", "q-b-stored")
    journal.rows[(STREAM, "c")] = ("pending", "q-c-stored")
    journal.rows[("subscription_refunded", "r")] = ("pending", "q-r-stored")  # a later stream: all delivered
    with pytest.raises(DeliveryFailed, match=r"^2 pending events of an earlier run were not delivered$"):
        run.recover_pending()
    assert journal.undelivered() == ["a", "b"]
    assert _counts(summary) == (2, 0, 0, 2)


def test_a_stop_request_during_recovery_ends_the_run() -> None:
    run, journal, transport, _, stop = _run()
    journal.rows[(STREAM, "a")] = ("pending", "q-a-stored")
    transport.on_wait = lambda: stop.request(signal.SIGTERM)
    with pytest.raises(
        Interrupted, match=r"^Interrupted by SIGTERM: pending events of an earlier run were being re-sent; "
    ):
        run.recover_pending()
    assert journal.rows[(STREAM, "a")][0] == DELIVERED
