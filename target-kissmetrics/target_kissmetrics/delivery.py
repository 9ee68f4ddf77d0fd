"""A run's deliveries: each sink's batches journaled, sent, waited for and recorded, plus recovery.

One :class:`DeliveryRun` per target process, shared by every sink: the journal, the transport, the run
summary and the stop request. A :class:`Batch` is one SDK batch of one stream. Its events are journaled
as pending and handed to the transport ``DISPATCH_CHUNK`` at a time while the batch is still being read;
:meth:`DeliveryRun.finish` waits for all of them and records what was delivered.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from target_kissmetrics.errors import DeliveryFailed
from target_kissmetrics.events import BuiltEvent
from target_kissmetrics.interrupt import StopRequest
from target_kissmetrics.journal import NEW, RESEND, Journal
from target_kissmetrics.summary import RunSummary
from target_kissmetrics.transport import Delivery, DeliveryReport, Transport

DISPATCH_CHUNK = 500  # events journaled (one transaction) and handed to the transport at a time


@dataclass
class Batch:
    """One SDK batch of one stream on its way to KISSmetrics."""

    stream: str
    events: list[BuiltEvent] = field(default_factory=list)  # built, in the order read
    dispatched: int = 0  # events[:dispatched] were journaled and handed to the transport
    delivery: Delivery | None = None  # the transport's batch, once something was sent
    seen: set[str] = field(default_factory=set)  # record keys of the batch (the first one wins)
    keys: list[str] = field(default_factory=list)  # the record key of each request sent, in order
    already: int = 0  # delivered by an earlier batch or run, or repeated within this batch
    resent: int = 0  # pending from an earlier run: its stored request is sent again

    @property
    def undispatched(self) -> int:
        return len(self.events) - self.dispatched


class DeliveryRun:
    def __init__(
        self,
        journal: Journal,
        transport: Transport,
        summary: RunSummary,
        stop: StopRequest,
        logger: logging.Logger,
    ) -> None:
        self.journal = journal
        self.transport = transport
        self.summary = summary
        self.stop = stop
        self.logger = logger
        self._open: dict[int, Batch] = {}  # batches dispatched from and not finished, by id
        self._open_lock = threading.Lock()

    def dispatch(self, batch: Batch) -> None:
        """Journal as pending, then start sending, the batch's events not dispatched yet."""
        start, batch.dispatched = batch.dispatched, len(batch.events)
        if start >= len(batch.events):
            return
        self.stop.check()
        if batch.delivery is None:
            batch.delivery = self.transport.start()
            with self._open_lock:
                self._open[id(batch)] = batch
        unique: dict[str, BuiltEvent] = {}
        for event in batch.events[start:]:
            if event.key in batch.seen or event.key in unique:
                batch.already += 1  # the first record with a key wins, as across batches
                continue
            unique[event.key] = event
        batch.seen.update(unique)
        claimed = self.journal.claim(batch.stream, [(key, event.query) for key, event in unique.items()])
        queries: list[str] = []
        for key in unique:
            what, request = claimed[key]
            if what == RESEND:  # an earlier run (or a worker now gone) stopped before recording it
                batch.resent += 1  # re-send the stored bytes
            elif what != NEW:  # delivered, or being sent by another live worker sharing the journal
                batch.already += 1
                continue
            queries.append(request)
            batch.keys.append(key)
        self.transport.send(batch.delivery, queries)

    def finish(self, batch: Batch) -> None:
        """Send what is left, wait for everything, record it; raise if anything was not delivered."""
        try:
            self.dispatch(batch)
        finally:
            report = self._settle(batch)
        if batch.resent:
            self.logger.info(
                "Re-sent %d pending %s events with their stored requests", batch.resent, batch.stream
            )
        self.stop.check("events in flight finished, nothing more was sent")
        if report is not None and report.failed:
            raise DeliveryFailed(
                f"{len(report.failed)} of {len(batch.keys)} {batch.stream} events were not delivered "
                f"({report.first_error})"
            )

    def _settle(self, batch: Batch) -> DeliveryReport | None:
        """Wait for the batch's requests (halting the transport if a signal comes) and journal them."""
        with self._open_lock:
            if self._open.pop(id(batch), None) is None:
                return None  # nothing sent, or settled already
        assert batch.delivery is not None
        report = self.transport.wait(batch.delivery, halt_when=lambda: self.stop.requested)
        self.summary.add(
            sent=len(report.delivered),
            retried=report.retried,
            already_delivered=batch.already,
            failed=len(report.failed),
        )
        if report.delivered:
            self.journal.mark_delivered(batch.stream, [batch.keys[i] for i in report.delivered])
        return report

    def settle_all(self) -> None:
        """After the run stopped early: halt, then record whatever open batches did deliver."""
        self.transport.halt()
        with self._open_lock:
            batches = list(self._open.values())
        for batch in batches:
            self._settle(batch)

    def recover_pending(self) -> None:
        """Re-send, with their stored bytes, the events an earlier run (or a worker now gone, on a shared
        journal) left pending, sent or not."""
        pending = self.journal.claim_orphans()
        if not pending:
            return
        self.logger.info("Re-sending %d pending events left by an earlier run", len(pending))
        by_stream: dict[str, Batch] = {}
        for stream, key, request in pending:
            batch = by_stream.setdefault(stream, Batch(stream))
            batch.keys.append(key)
            batch.events.append(BuiltEvent(key, request))
        for batch in by_stream.values():
            batch.delivery = self.transport.start()
            with self._open_lock:
                self._open[id(batch)] = batch
            self.transport.send(batch.delivery, [event.query for event in batch.events])
            batch.dispatched = len(batch.events)
        failed = 0
        for batch in by_stream.values():
            report = self._settle(batch)
            failed += len(report.failed) if report else 0
        self.stop.check("pending events of an earlier run were being re-sent")
        if failed:
            raise DeliveryFailed(f"{failed} pending events of an earlier run were not delivered")
