"""KISSmetrics sink: one BatchSink per stream; a batch returns only once every event is delivered.

singer-sdk writes STATE only in ``drain_all()``, after every sink's ``process_batch`` has returned, so
raising here when an event could not be delivered means no STATE is emitted past it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator

from target_kissmetrics.errors import DeliveryFailed, SkipRecord
from target_kissmetrics.events import BuiltEvent, EventBuilder
from target_kissmetrics.journal import DELIVERED
from target_kissmetrics.record_validator import FastJSONSchemaValidator
from target_kissmetrics.redact import REDACTED
from target_kissmetrics.validation import check_key_fields

if TYPE_CHECKING:
    from target_kissmetrics.target import TargetKissmetrics


class KissmetricsSink(BatchSink):
    """Builds each record's request as it arrives, delivers the batch in ``process_batch``."""

    def __init__(
        self,
        target: TargetKissmetrics,
        stream_name: str,
        schema: dict,
        key_properties: Sequence[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self.km = target
        mapping = target.mappings[stream_name]
        if not mapping.key_fields and key_properties:
            mapping = dataclasses.replace(mapping, key_fields=tuple(key_properties))
        check_key_fields(mapping)
        settings = target.settings
        self.builder = EventBuilder(
            mapping, lowercase_identity=settings.lowercase_identity, use_fallback=settings.use_fallback
        )

    def get_validator(self) -> BaseJSONSchemaValidator | None:
        return FastJSONSchemaValidator(self.schema) if self.validate_schema else None

    def process_record(self, record: dict, context: dict) -> None:
        try:
            event = self.builder.build(record)
        except SkipRecord as skip:
            key = self.builder.key_of(record)
            self.km.summary.skip(skip.reason, self.stream_name, key)
            self.logger.warning(
                "Skipped %s record %s (%s): %s", self.stream_name, key, skip.reason, skip.detail
            )
            return
        context.setdefault("events", []).append(event)

    def process_batch(self, context: dict) -> None:
        events: list[BuiltEvent] = context.get("events", [])
        if not events:
            return
        if self.km.settings.dry_run:
            self._log_dry_run(events)
            return
        journal, transport, summary = self.km.journal, self.km.transport, self.km.summary
        assert journal is not None and transport is not None

        unique: dict[str, BuiltEvent] = {}
        for event in events:
            unique.setdefault(event.key, event)  # the first record with a key wins, as across batches
        already = len(events) - len(unique)
        known = journal.lookup(self.stream_name, list(unique))
        keys: list[str] = []
        queries: list[str] = []
        new_rows: list[tuple[str, str]] = []
        resent = 0
        for key, event in unique.items():
            entry = known.get(key)
            if entry is None:
                new_rows.append((key, event.query))
                queries.append(event.query)
            elif entry[0] == DELIVERED:
                already += 1
                continue
            else:  # pending: a crash came between sending and recording; re-send the stored bytes
                resent += 1
                queries.append(entry[1])
            keys.append(key)
        if resent:
            self.logger.info(
                "Re-sending %d pending %s events with their stored requests", resent, self.stream_name
            )
        if new_rows:
            journal.add_pending(self.stream_name, new_rows)
        report = transport.deliver(queries)
        if report.delivered:
            journal.mark_delivered(self.stream_name, [keys[i] for i in report.delivered])
        summary.add(
            sent=len(report.delivered),
            retried=report.retried,
            already_delivered=already,
            failed=len(report.failed),
        )
        if report.failed:
            raise DeliveryFailed(
                f"{len(report.failed)} of {len(queries)} {self.stream_name} events were not delivered "
                f"({report.first_error})",
                len(report.failed),
            )

    def _log_dry_run(self, events: list[BuiltEvent]) -> None:
        base = f"{self.km.settings.tracking_url}/e?_k={REDACTED}&"
        for event in events:
            self.logger.info("dry run, not sent: GET %s%s", base, event.query)
        self.km.summary.add_dry_run(len(events))
