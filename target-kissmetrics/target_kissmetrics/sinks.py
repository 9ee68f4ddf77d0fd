"""KISSmetrics sink: one BatchSink per stream; a batch returns only once every event is delivered.

Sending starts while the batch is read (``DISPATCH_CHUNK`` events at a time, each chunk journaled as
pending first), so reading and delivery overlap; ``process_batch`` waits for the whole batch.

singer-sdk writes STATE only in ``drain_all()``, after every sink's ``process_batch`` has returned, so
raising here when an event could not be delivered means no STATE is emitted past it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from singer_sdk.helpers._typing import get_datelike_property_type
from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator

from target_kissmetrics.errors import DeliveryFailed, SkipRecord
from target_kissmetrics.events import BuiltEvent, EventBuilder
from target_kissmetrics.journal import DELIVERED
from target_kissmetrics.record_validator import FastJSONSchemaValidator
from target_kissmetrics.redact import REDACTED
from target_kissmetrics.validation import check_against_schema, check_key_fields

if TYPE_CHECKING:
    from singer_sdk.helpers.conform import DatetimeErrorTreatmentEnum

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
        check_against_schema(mapping, schema)  # the SCHEMA message has just arrived: stop before any record
        settings = target.settings
        self._datelike_cache: tuple[dict, frozenset[str], tuple[str, ...]] | None = None
        self.builder = EventBuilder(
            mapping, lowercase_identity=settings.lowercase_identity, use_fallback=settings.use_fallback
        )

    def _parse_timestamps_in_record(
        self, record: dict, schema: dict, treatment: DatetimeErrorTreatmentEnum
    ) -> None:
        """The SDK's parsing, given only the record's date-like fields.

        The SDK looks every field of every record up in the schema (~35 µs a record, the target's largest
        per-record cost after delivery). When every field is in the schema (so there is nothing to warn
        about), only the date-like ones, found once per schema, go through the SDK's own parser, with
        its own invalid-value treatment; anything else takes the SDK's full path.
        """
        properties = schema.get("properties") or {}
        cached = self._datelike_cache
        if cached is None or cached[0] is not schema:
            names = frozenset(properties)
            datelike = tuple(key for key, spec in properties.items() if get_datelike_property_type(spec))
            cached = self._datelike_cache = (schema, names, datelike)
        _, names, datelike = cached
        if not names.issuperset(record):
            super()._parse_timestamps_in_record(record, schema, treatment)
            return
        present = {key: record[key] for key in datelike if record.get(key) is not None}
        if present:
            super()._parse_timestamps_in_record(present, schema, treatment)
            record.update(present)

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
        events = context.setdefault("events", [])
        events.append(event)
        if len(events) - context.get("dispatched", 0) >= self.DISPATCH_CHUNK:
            self._dispatch(context)

    # Events are sent while the batch is still being read, DISPATCH_CHUNK at a time (one journal
    # transaction each); process_batch then waits for all of them.
    DISPATCH_CHUNK = 500

    def _dispatch(self, context: dict) -> None:
        """Journal as pending, then start sending, the batch's events not dispatched yet."""
        events: list[BuiltEvent] = context.get("events", [])
        start = context.get("dispatched", 0)
        context["dispatched"] = len(events)
        journal, transport = self.km.journal, self.km.transport
        if self.km.settings.dry_run or journal is None or transport is None or start >= len(events):
            return
        if "delivery" not in context:
            context.update(delivery=transport.start(), seen=set(), keys=[], already=0, resent=0)
        seen: set[str] = context["seen"]
        unique: dict[str, BuiltEvent] = {}
        for event in events[start:]:
            if event.key in seen or event.key in unique:
                context["already"] += 1  # the first record with a key wins, as across batches
                continue
            unique[event.key] = event
        seen.update(unique)
        known = journal.lookup(self.stream_name, list(unique))
        keys: list[str] = context["keys"]
        queries: list[str] = []
        new_rows: list[tuple[str, str]] = []
        for key, event in unique.items():
            entry = known.get(key)
            if entry is None:
                new_rows.append((key, event.query))
                queries.append(event.query)
            elif entry[0] == DELIVERED:
                context["already"] += 1
                continue
            else:  # pending: a crash came between sending and recording; re-send the stored bytes
                context["resent"] += 1
                queries.append(entry[1])
            keys.append(key)
        if new_rows:
            journal.add_pending(self.stream_name, new_rows)
        transport.send(context["delivery"], queries)

    def process_batch(self, context: dict) -> None:
        events: list[BuiltEvent] = context.get("events", [])
        if not events:
            return
        if self.km.settings.dry_run:
            self._log_dry_run(events)
            return
        self._dispatch(context)
        journal, transport, summary = self.km.journal, self.km.transport, self.km.summary
        assert journal is not None and transport is not None
        keys: list[str] = context["keys"]
        resent: int = context["resent"]
        if resent:
            self.logger.info(
                "Re-sending %d pending %s events with their stored requests", resent, self.stream_name
            )
        report = transport.wait(context["delivery"])
        if report.delivered:
            journal.mark_delivered(self.stream_name, [keys[i] for i in report.delivered])
        summary.add(
            sent=len(report.delivered),
            retried=report.retried,
            already_delivered=context["already"],
            failed=len(report.failed),
        )
        if report.failed:
            raise DeliveryFailed(
                f"{len(report.failed)} of {len(keys)} {self.stream_name} events were not delivered "
                f"({report.first_error})",
                len(report.failed),
            )

    def _log_dry_run(self, events: list[BuiltEvent]) -> None:
        base = f"{self.km.settings.tracking_url}/e?_k={REDACTED}&"
        for event in events:
            self.logger.info("dry run, not sent: GET %s%s", base, event.query)
        self.km.summary.add_dry_run(len(events))
