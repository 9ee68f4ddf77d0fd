"""KISSmetrics sink: one BatchSink per stream; a batch returns only once every event is delivered.

The sink turns records into requests (:mod:`target_kissmetrics.events`) and hands them to the run's
:class:`~target_kissmetrics.delivery.DeliveryRun`, which sends them while the batch is still being read
(``DISPATCH_CHUNK`` at a time, each chunk journaled as pending first); ``process_batch`` waits for the
whole batch.

singer-sdk writes STATE only in ``drain_all()``, after every sink's ``process_batch`` has returned, so
raising here when an event could not be delivered means no STATE is emitted past it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator

from target_kissmetrics.delivery import DISPATCH_CHUNK, Batch, DeliveryRun
from target_kissmetrics.errors import SkipRecord
from target_kissmetrics.events import BuiltEvent, EventBuilder
from target_kissmetrics.mapping import EventMapping
from target_kissmetrics.record_validator import FastJSONSchemaValidator
from target_kissmetrics.redact import REDACTED
from target_kissmetrics.routing import Routes, split_route
from target_kissmetrics.sdk_private import get_datelike_property_type
from target_kissmetrics.summary import RunSummary
from target_kissmetrics.validation import check_against_schema, check_key_fields

if TYPE_CHECKING:
    from singer_sdk import Target
    from singer_sdk.helpers.conform import DatetimeErrorTreatmentEnum


@dataclass(frozen=True)
class SinkNeeds:
    """Everything a sink needs from the run, given to it explicitly."""

    mapping: EventMapping
    lowercase_identity: bool
    use_fallback: bool
    summary: RunSummary
    delivery: DeliveryRun | None  # None in a dry run
    tracking_url: str  # for the dry run's log lines
    routes: Routes = dataclasses.field(
        default_factory=lambda: Routes({})
    )  # the key of each event (routing.py)


@runtime_checkable
class ProvidesSinkNeeds(Protocol):
    def sink_needs(self, stream_name: str) -> SinkNeeds: ...


class KissmetricsSink(BatchSink):
    """Builds each record's request as it arrives, delivers the batch in ``process_batch``."""

    def __init__(
        self,
        target: Target,
        stream_name: str,
        schema: dict,
        key_properties: Sequence[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        if not isinstance(target, ProvidesSinkNeeds):
            raise TypeError(f"{type(target).__name__} does not provide sink_needs()")
        needs = target.sink_needs(stream_name)
        mapping = needs.mapping
        if not mapping.key_fields and key_properties:
            mapping = dataclasses.replace(mapping, key_fields=tuple(key_properties))
        check_key_fields(mapping)
        check_against_schema(mapping, schema)  # the SCHEMA message has just arrived: stop before any record
        self.needs = needs
        self._datelike_cache: tuple[dict, frozenset[str], tuple[str, ...]] | None = None
        self.builder = EventBuilder(
            mapping, lowercase_identity=needs.lowercase_identity, use_fallback=needs.use_fallback
        )
        self._open: Batch | None = None  # the batch being read
        self._open_lock = threading.Lock()

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
        route = self.needs.routes.route(record)  # no key for its account: the run stops (routing.py)
        try:
            event = self.needs.routes.apply(self.builder.build(record), route)
        except SkipRecord as skip:
            key = self.builder.key_of(record)
            self.needs.summary.skip(skip.reason, self.stream_name, key)
            self.logger.warning(
                "Skipped %s record %s (%s): %s", self.stream_name, key, skip.reason, skip.detail
            )
            return
        with self._open_lock:
            batch = self._open = self._open or Batch(self.stream_name)
        batch.events.append(event)
        if self.needs.delivery is not None and batch.undispatched >= DISPATCH_CHUNK:
            self.needs.delivery.dispatch(batch)

    def process_batch(self, context: dict) -> None:
        with self._open_lock:
            batch, self._open = self._open, None
        if batch is None or not batch.events:
            return
        if self.needs.delivery is None:
            self._log_dry_run(batch.events)
            return
        self.needs.delivery.finish(batch)

    def _log_dry_run(self, events: list[BuiltEvent]) -> None:
        base = f"{self.needs.tracking_url}/e?_k={REDACTED}&"
        for event in events:
            account, query = split_route(event.query)
            where = f" (key of {account})" if account else ""
            self.logger.info("dry run, not sent%s: GET %s%s", where, base, query)
        self.needs.summary.add_dry_run(len(events))
