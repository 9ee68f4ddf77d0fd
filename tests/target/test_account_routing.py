"""account_api_keys: each record's event goes to its Stripe account's KISSmetrics product, never another's."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from target_kissmetrics.errors import ConfigError, DeliveryFailed
from target_kissmetrics.events import EventBuilder
from target_kissmetrics.journal import Journal
from target_kissmetrics.routing import NoKeyForAccount, Routes, parse_account_keys, split_route
from target_kissmetrics.settings import Settings
from target_kissmetrics.target import TargetKissmetrics

from stand_ins.kissmetrics import KissmetricsStandIn
from tests.target.conftest import run_cli, run_in_process
from tests.target.singer_input import KEY, billed, singer_lines

KEY_A = "KMKEYACCOUNTA0001"
KEY_B = "KMKEYACCOUNTB0002"
ACCT_A, ACCT_B, ACCT_C = "acct_1RoutingAAAAAAAA", "acct_1RoutingBBBBBBBB", "acct_1RoutingCCCCCCCC"
STATE = {"bookmarks": {"subscription_billed": {"replication_key_value": "2024-03-01T12:00:00Z"}}}


@pytest.fixture
def any_key() -> Any:
    with KissmetricsStandIn(api_key=None) as server:  # accepts every key: the test reads which was used
        yield server


def routed_config(server: KissmetricsStandIn, tmp_path: Path, **keys: str) -> dict[str, Any]:
    return {
        "api_key": KEY,
        "account_api_keys": keys or {ACCT_A: KEY_A, ACCT_B: KEY_B},
        "tracking_url": server.url,
        "journal_path": str(tmp_path / "journal.sqlite"),
        "backoff_base_seconds": 0.01,
        "timeout_seconds": 2,
    }


def sent_keys(server: KissmetricsStandIn) -> dict[str, str]:
    """Invoice (``Invoice ID`` property is not sent, so the person) → the ``_k`` it was sent under."""
    return {str(r.first("_p")): str(r.first("_k")) for r in server.requests}


def journal_rows(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return sorted(db.execute("SELECT record_key, request FROM deliveries").fetchall())


def test_each_account_goes_under_its_own_key_and_no_account_under_the_default(
    any_key: KissmetricsStandIn, tmp_path: Path
) -> None:
    records = [
        ("subscription_billed", billed("in_a", customer_email="a@example.com", account_id=ACCT_A)),
        ("subscription_billed", billed("in_b", customer_email="b@example.com", account_id=ACCT_B)),
        ("subscription_billed", billed("in_none", customer_email="none@example.com")),
    ]
    config = routed_config(any_key, tmp_path)
    assert run_in_process(config, singer_lines(records, STATE))
    assert sent_keys(any_key) == {"a@example.com": KEY_A, "b@example.com": KEY_B, "none@example.com": KEY}
    rows = journal_rows(tmp_path / "journal.sqlite")
    assert [key for key, _ in rows] == ["in_a@" + ACCT_A, "in_b@" + ACCT_B, "in_none"]
    # A replay sends nothing again, under any key.
    assert run_in_process(config, singer_lines(records, STATE))
    assert len(any_key.requests) == 3


def test_pending_events_are_re_sent_under_the_key_of_the_account_they_were_journaled_for(
    any_key: KissmetricsStandIn, tmp_path: Path
) -> None:
    """An earlier run journaled one routed event as pending and stopped: the stored bytes carry the
    account (never a key), and the next run re-sends them under that account's key."""
    config = routed_config(any_key, tmp_path)
    dry = TargetKissmetrics(config={**config, "dry_run": True})
    [sink_needs] = [dry.sink_needs("subscription_billed")]
    record = billed("in_a", customer_email="a@example.com", account_id=ACCT_A)
    builder = EventBuilder(sink_needs.mapping, lowercase_identity=True, use_fallback=False)
    event = Routes.apply(builder.build(record), sink_needs.routes.route(record))
    assert split_route(event.query)[0] == ACCT_A and event.key == "in_a@" + ACCT_A
    assert not any(secret in event.query for secret in (KEY, KEY_A, KEY_B))
    journal = Journal(tmp_path / "journal.sqlite", 0)
    journal.add_pending("subscription_billed", [(event.key, event.query)])
    journal.close()

    assert run_in_process(config, singer_lines([], STATE))
    assert sent_keys(any_key) == {"a@example.com": KEY_A}
    assert [r.raw_query for r in any_key.requests] == [f"_k={KEY_A}&{split_route(event.query)[1]}"]


def test_a_pending_event_of_an_account_whose_key_was_removed_is_not_sent_under_another(
    any_key: KissmetricsStandIn, tmp_path: Path
) -> None:
    journal = Journal(tmp_path / "journal.sqlite", 0)
    journal.add_pending(
        "subscription_billed", [("in_c@" + ACCT_C, f"{ACCT_C}\n_p=c%40example.com&_n=x&_t=1700000000&_d=1")]
    )
    journal.close()
    with pytest.raises(DeliveryFailed, match="pending events of an earlier run were not delivered"):
        run_in_process(routed_config(any_key, tmp_path), singer_lines([], STATE))
    assert any_key.requests == []


def test_without_account_api_keys_every_account_goes_under_api_key_as_before(
    any_key: KissmetricsStandIn, tmp_path: Path
) -> None:
    config = {**routed_config(any_key, tmp_path), "account_api_keys": {}}
    records = [("subscription_billed", billed("in_a", customer_email="a@example.com", account_id=ACCT_A))]
    run_in_process(config, singer_lines(records, STATE))
    assert sent_keys(any_key) == {"a@example.com": KEY}
    assert [key for key, _ in journal_rows(tmp_path / "journal.sqlite")] == ["in_a"]  # keys as before


@pytest.mark.slow
def test_an_account_without_a_key_stops_the_run_and_nothing_is_lost(
    any_key: KissmetricsStandIn, tmp_path: Path
) -> None:
    """The record of ACCT_C is never sent under another key; the run exits 1 with one line and no STATE;
    once its key is added, the next run delivers it and nothing else twice."""
    records = [
        ("subscription_billed", billed("in_a", customer_email="a@example.com", account_id=ACCT_A)),
        ("subscription_billed", billed("in_c", customer_email="c@example.com", account_id=ACCT_C)),
        ("subscription_billed", billed("in_b", customer_email="b@example.com", account_id=ACCT_B)),
    ]
    config = routed_config(any_key, tmp_path)
    result = run_cli(config, singer_lines(records, STATE), tmp_path)
    assert result.returncode == 1
    assert result.states == []
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and f"no KISSmetrics key for Stripe account {ACCT_C}" in errors[0]
    for secret in (KEY, KEY_A, KEY_B):
        assert secret not in result.stderr + result.stdout
    assert "c@example.com" not in sent_keys(any_key)

    config["account_api_keys"] = {ACCT_A: KEY_A, ACCT_B: KEY_B, ACCT_C: "KMKEYACCOUNTC0003"}
    again = run_cli(config, singer_lines(records, STATE), tmp_path)
    assert again.returncode == 0 and again.states
    people = [str(r.first("_p")) for r in any_key.requests]
    assert sorted(set(people)) == ["a@example.com", "b@example.com", "c@example.com"]
    assert len(people) == len(set(people)), "an event was sent twice"
    assert sent_keys(any_key)["c@example.com"] == "KMKEYACCOUNTC0003"


def test_settings_refuse_bad_account_api_keys_without_echoing_a_key() -> None:
    with pytest.raises(ConfigError, match="'acct-bad' is not a Stripe account id"):
        parse_account_keys({"acct-bad": KEY_A})
    with pytest.raises(ConfigError, match=f"the key for {ACCT_A} is empty"):
        parse_account_keys({ACCT_A: " "})
    with pytest.raises(ConfigError, match="must be an object"):
        parse_account_keys(["x"])
    settings = Settings.from_config({"api_key": KEY, "account_api_keys": {ACCT_A: f" {KEY_A} "}})
    assert settings.account_api_keys == {ACCT_A: KEY_A}
    assert set(settings.secrets) == {KEY, KEY_A}


def test_routes_never_fall_back_to_the_default_key_for_an_unlisted_account() -> None:
    routes = Routes({ACCT_A: KEY_A})
    assert routes.route({"account_id": ACCT_A}) == ACCT_A
    assert routes.route({"account_id": None}) == ""
    with pytest.raises(NoKeyForAccount):
        routes.route({"account_id": ACCT_B})
    assert Routes({}).route({"account_id": ACCT_B}) == ""
