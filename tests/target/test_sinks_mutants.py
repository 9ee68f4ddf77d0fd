"""The sink's batching pinned where mutation testing (scripts/mutation.sh sinks) found it loose.

In process, against the KISSmetrics stand-in: duplicates within a batch, a batch sent in several chunks,
re-sent pending requests, dry-run lines. Counts come from the target's run summary.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any, ClassVar

import pytest
from singer_sdk import Target
from singer_sdk.exceptions import MissingKeyPropertiesError
from target_kissmetrics import sinks
from target_kissmetrics.delivery import Batch, DeliveryRun
from target_kissmetrics.errors import ConfigError, InvalidInput
from target_kissmetrics.journal import Journal
from target_kissmetrics.target import TargetKissmetrics

from stand_ins.kissmetrics import KissmetricsStandIn
from tests.target.singer_input import SCHEMAS, billed, singer_lines
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


def _lines(stream: str, schema: dict[str, Any], keys: list[str], records: list[dict[str, Any]]) -> str:
    schema_line = json.dumps({"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": keys})
    body = [json.dumps({"type": "RECORD", "stream": stream, "record": r}) for r in records]
    return "\n".join([schema_line, *body, json.dumps({"type": "STATE", "value": STATE})]) + "\n"


def _listen(config: dict[str, Any], text: str) -> TargetKissmetrics:
    target = TargetKissmetrics(config=config)
    with redirect_stdout(io.StringIO()):
        target.listen(io.StringIO(text))
    return target


def test_a_mappings_key_fields_win_over_the_streams_key_properties(
    standin: KissmetricsStandIn, config: dict[str, Any]
) -> None:
    """The built-in mapping keys billed events by invoice: a tap that declares another key (here the
    customer) does not make two invoices of one customer one event."""
    schema, _ = SCHEMAS["subscription_billed"]
    records = [billed("in_1"), billed("in_2"), billed("in_1")]
    target = _listen(config, _lines("subscription_billed", {"properties": schema}, ["customer_id"], records))
    assert _counts(target) == (2, 1, 0) and len(standin.requests) == 2


def test_a_mapping_without_key_fields_keys_by_the_streams_key_properties(
    standin: KissmetricsStandIn, config: dict[str, Any]
) -> None:
    mapping = {"event_name": "Ordered", "timestamp_field": "at", "properties": {"Order ID": "order_id"}}
    schema = {"properties": {k: {"type": "string"} for k in ("order_id", "at", "customer_email")}}
    records = [
        {"order_id": order, "at": "2024-03-01T12:00:00Z", "customer_email": "a@example.com"}
        for order in ("o1", "o2", "o1")
    ]
    target = _listen(
        {**config, "event_mappings": {"orders": mapping}}, _lines("orders", schema, ["order_id"], records)
    )
    assert _counts(target) == (2, 1, 0) and len(standin.requests) == 2
    with pytest.raises(ConfigError, match="no key_fields and the stream has no key properties"):
        _listen({**config, "event_mappings": {"orders": mapping}}, _lines("orders", schema, [], records))


def test_a_record_without_its_streams_key_property_stops_the_run(
    standin: KissmetricsStandIn, config: dict[str, Any]
) -> None:
    """The sink is given the stream's key properties, so singer-sdk checks every record carries them."""
    record = billed("in_1")
    del record["invoice_id"]
    with pytest.raises(MissingKeyPropertiesError, match=r"Key Properties: \['invoice_id'\]"):
        _listen(config, singer_lines([("subscription_billed", record)], STATE))
    assert standin.requests == []


def test_a_target_that_gives_no_sink_needs_is_named() -> None:
    class Bare(Target):
        name = "bare"
        config_jsonschema: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}
        default_sink_class = sinks.KissmetricsSink

    schema, keys = SCHEMAS["subscription_billed"]
    with pytest.raises(TypeError, match=r"^Bare does not provide sink_needs\(\)$"):
        sinks.KissmetricsSink(Bare(config={}), "subscription_billed", {"properties": schema}, keys)


def test_the_identity_settings_reach_the_sinks_events(
    standin: KissmetricsStandIn, config: dict[str, Any]
) -> None:
    _run(config, ["in_1"])  # lowercase_identity is on by default
    no_email = billed("in_2", customer_email=None, customer_id="cus_9")
    _listen(
        {**config, "identity_fallback": "customer_id"},
        singer_lines([("subscription_billed", no_email)], STATE),
    )
    mixed = billed("in_3", customer_email="Mixed@Example.COM")
    _listen(config, singer_lines([("subscription_billed", mixed)], STATE))
    identities = [r.raw_query.split("&_p=")[1].split("&")[0] for r in standin.requests]
    assert identities == ["in_1%40example.com", "cus_9", "mixed%40example.com"]


def test_a_field_the_schema_does_not_know_is_warned_about_and_the_event_sent(
    standin: KissmetricsStandIn, config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    target = _listen(config, singer_lines([("subscription_billed", billed("in_1", coupon="X"))], STATE))
    assert "No schema for record field 'coupon'" in caplog.text
    assert _counts(target) == (1, 0, 0) and "_t=1709294400&" in standin.requests[0].raw_query


def test_a_time_that_is_no_date_time_stops_the_run_before_anything_is_sent(
    standin: KissmetricsStandIn, config: dict[str, Any]
) -> None:
    """The SDK parses the schema's date-time fields (only those, when the record has no unknown field),
    with its own invalid-value treatment: an error naming the value and the field."""
    lines = singer_lines([("subscription_billed", billed("in_1", paid_at="not-a-date"))], STATE)
    with pytest.raises(ValueError, match=r"^Could not parse value 'not-a-date' for field 'paid_at'\.$"):
        _listen(config, lines)
    assert standin.requests == []


def test_a_skipped_record_is_counted_by_reason_and_key_and_logged(
    standin: KissmetricsStandIn, config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    lines = singer_lines([("subscription_billed", billed("in_1", customer_email=None))], STATE)
    target = _listen(config, lines)
    assert target.summary.skipped == {"no_identity": ["subscription_billed:in_1"]}
    assert "Skipped subscription_billed record in_1 (no_identity): no customer_email" in caplog.messages
    assert standin.requests == []


def test_records_are_checked_against_their_schema_unless_validation_is_off(
    standin: KissmetricsStandIn, config: dict[str, Any]
) -> None:
    lines = singer_lines([("subscription_billed", billed("in_1", amount="lots"))], STATE)
    with pytest.raises(InvalidInput, match=r"record in_1 does not match its schema: data\.amount must be"):
        _listen(config, lines)
    target = _listen({**config, "validate_records": False}, lines)  # the event rules skip it instead
    assert target.summary.skipped == {"non_numeric_amount": ["subscription_billed:in_1"]}
    assert standin.requests == []


def test_a_batch_is_handed_on_a_chunk_at_a_time_while_it_is_read(
    standin: KissmetricsStandIn, config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sending overlaps reading: every ``DISPATCH_CHUNK`` records the sink hands the batch on; the batch's
    end hands on the rest."""
    monkeypatch.setattr(sinks, "DISPATCH_CHUNK", 2)
    sizes: list[int] = []
    dispatch = DeliveryRun.dispatch

    def spy(self: DeliveryRun, batch: Batch) -> None:
        sizes.append(len(batch.events))
        dispatch(self, batch)

    monkeypatch.setattr(DeliveryRun, "dispatch", spy)
    target = _run(config, ["in_1", "in_2", "in_3", "in_4", "in_5"])
    assert sizes == [2, 4, 5]
    assert _counts(target) == (5, 0, 0)
