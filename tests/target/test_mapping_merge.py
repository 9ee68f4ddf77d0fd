"""event_mappings: how an entry merges with the built-in one, test-mode marking, and the SCHEMA check.

The merge rules and the ``Stripe Mode`` property are documented in ``target_kissmetrics/mapping.py`` and
the README ("Operating it"); the exact bytes below are what KISSmetrics receives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tap_stripe_billing.changed_stream import CHANGED_SCHEMA
from tap_stripe_billing.lifecycle_streams import CANCELED_SCHEMA
from tap_stripe_billing.refunded_stream import REFUNDED_SCHEMA
from tap_stripe_billing.streams import SCHEMA as BILLED_SCHEMA
from target_kissmetrics.errors import ConfigError
from target_kissmetrics.events import EventBuilder
from target_kissmetrics.mapping import EventMapping, resolve_mappings
from target_kissmetrics.validation import check_against_schema

from stand_ins.kissmetrics import KissmetricsStandIn
from tests.target.conftest import run_cli
from tests.target.singer_input import SCHEMAS, billed, canceled, changed, refunded, singer_lines

BILLED_USD = (
    "_p=alice%40example.com&_n=Subscription%20Billed&_t=1709294400&_d=1"
    "&Billing%20Amount=49.90&Stripe%20Invoice%20ID=in_1&Subscription%20Billing%20Amount=49.90"
    "&Subscription%20Billing%20Currency=USD&Subscription%20Billing%20Length=1"
    "&Subscription%20Plan%20Level=Pro"
)


def mapping(configured: dict[str, Any] | None, stream: str = "subscription_billed") -> EventMapping:
    return resolve_mappings(configured)[stream]


def query(mapped: EventMapping, record: dict[str, Any]) -> str:
    return EventBuilder(mapped, lowercase_identity=True, use_fallback=False).build(record).query


# -- merging -------------------------------------------------------------------------------------------------
def test_adding_one_property_keeps_every_built_in_one() -> None:
    mapped = mapping({"subscription_billed": {"properties": {"Customer ID": "customer_id"}}})
    assert query(mapped, billed()) == BILLED_USD.replace(
        "&Stripe%20Invoice%20ID", "&Customer%20ID=cus_1&Stripe%20Invoice%20ID"
    )


def test_a_property_of_the_same_name_replaces_only_that_one() -> None:
    mapped = mapping({"subscription_billed": {"properties": {"Subscription Plan Level": "billing_reason"}}})
    assert query(mapped, billed()) == BILLED_USD.replace("Level=Pro", "Level=subscription_cycle")


def test_remove_properties_leaves_built_ins_out() -> None:
    mapped = mapping({"subscription_billed": {"remove_properties": ["Billing Amount", "Stripe Invoice ID"]}})
    assert query(mapped, billed()) == BILLED_USD.replace("&Billing%20Amount=49.90", "").replace(
        "&Stripe%20Invoice%20ID=in_1", ""
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"remove_properties": ["Billing Amout"]}, "names 'Billing Amout', which is not a property"),
        ({"remove_properties": "Billing Amount"}, "must be a list of property names"),
        ({"properties": ["Billing Amount"]}, "properties must be an object"),
        ({"properties": {"X": {"field": "amount", "optional": "yes"}}}, "optional must be true or false"),
        ({"properties": {"X": {"field": "amount", "fmt": "amount"}}}, "unknown keys: fmt"),
    ],
)
def test_malformed_merges_are_fatal(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_mappings({"subscription_billed": entry})


def test_no_configuration_gives_todays_live_bytes() -> None:
    """Live records carry no Stripe Mode property: their requests are byte-identical to before."""
    assert query(mapping(None), billed()) == BILLED_USD


# -- test mode ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("stream", "record"),
    [
        ("subscription_billed", billed(livemode=False)),
        ("subscription_changed", changed(livemode=False)),
        ("subscription_canceled", canceled(livemode=False)),
        ("subscription_refunded", refunded(livemode=False)),
    ],
)
def test_test_mode_records_are_marked_live_ones_are_not(stream: str, record: dict[str, Any]) -> None:
    mapped = mapping(None, stream)
    test_query = query(mapped, record)
    assert "&Stripe%20Mode=test" in test_query
    live_query = query(mapped, {**record, "livemode": True})
    assert "Stripe%20Mode" not in live_query
    assert test_query.replace("&Stripe%20Mode=test", "") == live_query
    assert query(mapped, {k: v for k, v in record.items() if k != "livemode"}) == live_query


# -- against the SCHEMA -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("stream", "schema"),
    [
        ("subscription_billed", BILLED_SCHEMA),
        ("subscription_changed", CHANGED_SCHEMA),
        ("subscription_canceled", CANCELED_SCHEMA),
        ("subscription_refunded", REFUNDED_SCHEMA),
    ],
)
def test_built_in_mappings_fit_the_taps_schemas(stream: str, schema: dict[str, Any]) -> None:
    check_against_schema(mapping(None, stream), schema)
    # Stripe Mode needs the field to do anything: the tap declares it on every stream.
    assert "livemode" in schema["properties"]


BILLED_PROPS = {"type": "object", "properties": SCHEMAS["subscription_billed"][0]}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"identity_field": "billing_email"}, "identity_field names field 'billing_email'"),
        ({"timestamp_field": "paid"}, "timestamp_field names field 'paid'"),
        ({"key_fields": ["id"]}, "key_fields names field 'id'"),
        ({"properties": {"Coupon": "coupon"}}, "property 'Coupon' names field 'coupon'"),
        ({"currency_field": "cur"}, "currency_field names field 'cur'"),
        ({"event_name_field": "kind", "event_names": {"a": "A"}}, "event_name_field names field 'kind'"),
    ],
)
def test_a_field_the_schema_lacks_stops_the_run(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        check_against_schema(mapping({"subscription_billed": entry}), BILLED_PROPS)
    assert str(info.value).startswith("event_mappings.subscription_billed: ")
    assert "\n" not in str(info.value)


def test_fallback_and_optional_fields_may_be_missing() -> None:
    entry = {
        "fallback_identity_field": "no_such_field",
        "properties": {"Coupon": {"field": "coupon", "optional": True}},
    }
    check_against_schema(mapping({"subscription_billed": entry}), BILLED_PROPS)
    without_livemode = {k: v for k, v in BILLED_PROPS["properties"].items() if k != "livemode"}
    check_against_schema(mapping(None), {"type": "object", "properties": without_livemode})


@pytest.mark.slow
def test_a_bad_mapping_stops_the_target_at_the_schema_before_any_request(
    standin: KissmetricsStandIn, config: dict[str, Any], tmp_path: Path
) -> None:
    singer = singer_lines(
        [("subscription_billed", billed(f"in_{i}")) for i in range(3)],
        {"bookmarks": {"subscription_billed": {"replication_key_value": "2024-03-02T00:00:00Z"}}},
    )
    bad = {**config, "event_mappings": {"subscription_billed": {"identity_field": "email"}}}
    result = run_cli(bad, singer, tmp_path)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1, result.stderr
    assert "event_mappings.subscription_billed: identity_field names field 'email'" in errors[0]
    assert "Traceback" not in result.stderr
    assert result.stdout.strip() == "", "no STATE"
    assert standin.requests == []

    good = {
        **config,
        "event_mappings": {"subscription_billed": {"properties": {"Customer ID": "customer_id"}}},
    }
    ok = run_cli(good, singer, tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert len(standin.dashboard()) == 3
    assert all(e.properties["Billing Amount"] == "49.90" for e in standin.dashboard())
    assert all(e.properties["Customer ID"] == "cus_1" for e in standin.dashboard())
