"""The lifecycle streams against the Stripe stand-in, compared with its oracle: a first run (backfill,
history older than Stripe's 30-day event retention included) and hourly runs, exactly once; then the
same streams through the real target to the KISSmetrics stand-in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tap_stripe_billing.lifecycle_streams import EVENT_RETENTION, RETENTION_MARGIN

from stand_ins.kissmetrics import KissmetricsStandIn
from stand_ins.stripe import (
    LIVE_KEY,
    Account,
    AccountConfig,
    StripeStandIn,
    expected_cancellations,
    expected_changes,
    expected_refunds,
    generate_account,
)
from stand_ins.stripe.truth_lifecycle import mrr
from tests.tap.harness import run_tap

LAG = 300
CHANGED, CANCELED, REFUNDED = "subscription_changed", "subscription_canceled", "subscription_refunded"
LIFECYCLE = (CHANGED, CANCELED, REFUNDED)
KEYS = {CHANGED: "change_id", CANCELED: "subscription_id", REFUNDED: "refund_id"}
ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow  # whole runs against a generated account, and the real pipe


@pytest.fixture(scope="module")
def server() -> Iterator[StripeStandIn]:
    # Dense lifecycle activity so that every hourly run has something to find.
    cfg = AccountConfig(
        seed=21, invoices=8000, history_days=75, horizon_days=2, change_share=0.3, refund_share=0.12
    )
    with StripeStandIn(generate_account(cfg), port=0) as srv:
        yield srv


def config(server: StripeStandIn, **extra: Any) -> dict[str, Any]:
    return {
        "api_key": LIVE_KEY,
        "api_url": server.url,
        "max_requests_per_second": 1000,
        "max_requests_per_second_per_endpoint": 1000,
        **extra,
    }


def expected(account: Account, upper: int, retained_from: int) -> dict[str, dict[str, dict[str, Any]]]:
    return {
        CHANGED: expected_changes(account, upper, retained_from=retained_from),
        CANCELED: expected_cancellations(account, upper),
        REFUNDED: expected_refunds(account, upper),
    }


def compare(
    stream: str,
    records: list[dict[str, Any]],
    want: dict[str, dict[str, Any]],
    account: Account,
    emitted_at: dict[str, int],
) -> None:
    """Exact equality of keys and values; the one tolerated difference is an email the customer set only
    after the run that emitted the record (the oracle reads the customer's email at the final clock)."""
    key = KEYS[stream]
    got = {r[key]: r for r in records}
    assert len(got) == len(records), f"{stream}: a record was emitted twice"
    assert sorted(set(want) - set(got)) == [], f"{stream}: missing"
    assert sorted(set(got) - set(want)) == [], f"{stream}: unexpected"
    diffs = [
        (k, field, value, got[k].get(field))
        for k, rec in want.items()
        for field, value in rec.items()
        if got[k].get(field) != value
        and not (
            field == "customer_email"
            and got[k].get(field) is None
            and account.get("customer", got[k]["customer_id"]).email_set_at > emitted_at[k]
        )
    ]
    assert diffs == [], f"{stream}: {diffs[:5]}"


def test_first_run_and_hourly_runs_match_the_oracle(server: StripeStandIn) -> None:
    account = server.account
    saved = account.now
    first_now = account.now
    retained_from = first_now - EVENT_RETENTION + RETENTION_MARGIN
    records: dict[str, list[dict[str, Any]]] = {s: [] for s in LIFECYCLE}
    emitted_at: dict[str, int] = {}
    state: dict[str, Any] | None = None
    hourly_found = 0
    try:
        for step in range(5):
            if step:
                account.advance(hours=1 + step % 2)
            result = run_tap(config(server), state, streams=LIFECYCLE)
            state = result.state
            modes = {s: result.summaries[s]["mode"] for s in LIFECYCLE}
            assert set(modes.values()) == {"backfill" if step == 0 else "incremental"}
            for stream in LIFECYCLE:
                records[stream] += result.by_stream[stream]
                emitted_at.update({r[KEYS[stream]]: account.now for r in result.by_stream[stream]})
                if step:
                    hourly_found += len(result.by_stream[stream])
        upper = account.now - LAG
        want = expected(account, upper, retained_from)
        for stream in LIFECYCLE:
            compare(stream, records[stream], want[stream], account, emitted_at)
        assert hourly_found > 0, "the hourly runs found new lifecycle records"

        # The cases the streams must tell apart are all in this account and window.
        changes = want[CHANGED].values()
        assert {c["direction"] for c in changes} == {"upgraded", "downgraded"}
        assert any(c["change_id"].startswith("in_") for c in changes), "history past the events"
        assert any(c["change_id"].startswith("evt_") for c in changes)
        subs = [s for s in account.subscriptions if s.livemode]
        in_window = [ch for s in subs for ch in s.changes if ch.at < upper]
        quantity = [ch for ch in in_window if ch.kind in ("more", "fewer")]
        assert quantity and all(
            (ch.event_id in want[CHANGED] or (ch.invoice and ch.invoice.id in want[CHANGED]))
            for ch in quantity
        )
        equal = [ch for ch in in_window if ch.kind == "swap" and mrr(ch.old_items) == mrr(ch.new_items)]
        emitted_ids = {c["change_id"] for c in records[CHANGED]}
        assert equal and not any(ch.event_id in emitted_ids or ch.invoice.id in emitted_ids for ch in equal)  # type: ignore[union-attr]
        reasons = [c["cancelation_reason"] for c in want[CANCELED].values()]
        assert "Payment failed" in reasons and any(r and " — " in r for r in reasons)
        assert any(r in ("Too expensive", "Unused", "Other") for r in reasons)
        refunds = {r.id: r for r in account.refunds}
        kinds = {refunds[k].amount == refunds[k].invoice.paid_amount for k in want[REFUNDED]}
        assert kinds == {True, False}, "partial and full refunds"
        test_refunds = {r.id for r in account.refunds if not r.invoice.livemode and r.created < upper}
        assert test_refunds and not test_refunds & {r["refund_id"] for r in records[REFUNDED]}
        assert all(Decimal(str(r["amount"])) > 0 for r in records[REFUNDED])
    finally:
        account.set_now(saved)


def test_lifecycle_through_the_target_to_kissmetrics(server: StripeStandIn, tmp_path: Path) -> None:
    """``tap-stripe-billing | target-kissmetrics`` as two processes: the delivered lifecycle events are
    the oracle's, by event name, ids and time, and carry the oracle's person, amounts, lengths, plan
    levels, currencies and reasons; no tracking rule is broken."""
    account = server.account
    saved = account.now
    km_key = "km_lifecycle_test_key"
    try:
        with KissmetricsStandIn(api_key=km_key) as km:
            tap_cfg = tmp_path / "tap.json"
            start = account.now - 45 * 86_400
            tap_cfg.write_text(json.dumps(config(server, start_date=_iso(start))))
            catalog = tmp_path / "catalog.json"
            catalog.write_text(_catalog(tap_cfg))
            target_cfg = tmp_path / "target.json"
            target_cfg.write_text(
                json.dumps(
                    {"api_key": km_key, "tracking_url": km.url, "journal_path": str(tmp_path / "j.sqlite")}
                )
            )
            env = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("TAP_STRIPE", "TARGET_KISS", "MELTANO"))
            }
            retained_from = account.now - EVENT_RETENTION + RETENTION_MARGIN
            state_file = tmp_path / "state.json"
            for step in range(2):
                if step:
                    account.advance(hours=2)
                state_args = f" --state {state_file}" if state_file.exists() else ""
                pipe = (
                    f"{VENV_BIN / 'tap-stripe-billing'} --config {tap_cfg} --catalog {catalog}{state_args}"
                    f" | {VENV_BIN / 'target-kissmetrics'} --config {target_cfg}"
                )
                done = subprocess.run(
                    pipe,
                    shell=True,
                    capture_output=True,
                    text=True,
                    timeout=120,
                    env=env,
                    cwd=ROOT,
                    check=False,
                )
                assert done.returncode == 0, done.stderr[-3000:]
                states = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
                state_file.write_text(json.dumps(states[-1]))
                assert LIVE_KEY not in done.stderr + done.stdout and km_key not in done.stderr + done.stdout
            upper = account.now - LAG
            want = {
                CHANGED: expected_changes(account, upper, start, retained_from=retained_from),
                CANCELED: expected_cancellations(account, upper, start),
                REFUNDED: expected_refunds(account, upper, start),
            }
            expected_events = _expected_kissmetrics(want)
            delivered: dict[tuple[str, str, int], dict[str, Any]] = {}
            for request in km.requests:
                name = request.first("_n") or ""
                if name == "Subscription Billed":
                    continue
                ident = (
                    request.first("Stripe Refund ID")
                    if name == "Refunded"
                    else request.first("Stripe Subscription ID")
                )
                key = (name, ident or "", int(request.first("_t") or 0))
                assert key not in delivered, f"sent twice: {key}"
                delivered[key] = _wire_values(request.params)
            assert sorted(delivered) == sorted(expected_events)
            assert len(expected_events) > 20
            # What reaches KISSmetrics: person, amounts, lengths, plan levels, currencies and reasons.
            diffs = [(k, delivered[k], v) for k, v in expected_events.items() if delivered[k] != v]
            assert diffs == [], diffs[:3]
            kinds = {name for name, _, _ in expected_events}
            assert kinds == {
                "Subscription Upgraded",
                "Subscription Downgraded",
                "Subscription Canceled",
                "Refunded",
            }
            reasons = [v.get("Subscription Cancelation Reason") for v in expected_events.values()]
            assert any(r and " — " in r for r in reasons), "a reason with the customer's comment"
            assert km.violations() == []
    finally:
        account.set_now(saved)


def _expected_kissmetrics(
    want: dict[str, dict[str, dict[str, Any]]],
) -> dict[tuple[str, str, int], dict[str, Any]]:
    """(event name, Stripe id, _t) -> what KISSmetrics must receive, built from the oracle's records
    (README's event catalogue): numbers as Decimals, everything else as the exact text."""
    out: dict[tuple[str, str, int], dict[str, Any]] = {}
    for c in _emailed(want[CHANGED]):
        out[(_direction(c), c["subscription_id"], _unix(c["changed_at"]))] = {
            "_p": c["customer_email"].strip().lower(),
            "Subscription Billing Amount": Decimal(str(c["amount"])),
            "Subscription Billing Length": Decimal(str(c["billing_length_months"])),
            "Subscription Plan Level": c["plan_level"],
            "Stripe Subscription ID": c["subscription_id"],
        }
    for c in _emailed(want[CANCELED]):
        values = {"_p": c["customer_email"].strip().lower(), "Stripe Subscription ID": c["subscription_id"]}
        if c["cancelation_reason"]:
            values["Subscription Cancelation Reason"] = c["cancelation_reason"]
        out[("Subscription Canceled", c["subscription_id"], _unix(c["canceled_at"]))] = values
    for r in _emailed(want[REFUNDED]):
        values = {
            "_p": r["customer_email"].strip().lower(),
            "Billing Amount": -Decimal(str(r["amount"])),
            "Subscription Billing Amount": -Decimal(str(r["amount"])),
            "Subscription Billing Currency": r["currency"].upper(),
            "Stripe Invoice ID": r["invoice_id"],
            "Stripe Refund ID": r["refund_id"],
        }
        if r["reason"]:
            values["Subscription Refund Reason"] = r["reason"]
        out[("Refunded", r["refund_id"], _unix(r["refunded_at"]))] = values
    return out


NUMERIC = {"Billing Amount", "Subscription Billing Amount", "Subscription Billing Length"}


def _wire_values(params: list[tuple[str, str]]) -> dict[str, Any]:
    """A tracking request's person and properties (numbers as Decimals), without _k/_n/_t/_d."""
    return {
        name: Decimal(value) if name in NUMERIC else value
        for name, value in params
        if name not in ("_k", "_n", "_t", "_d")
    }


def _emailed(records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records.values() if r["customer_email"]]


def _direction(change: dict[str, Any]) -> str:
    return "Subscription Upgraded" if change["direction"] == "upgraded" else "Subscription Downgraded"


def _unix(iso: str) -> int:
    from tap_stripe_billing.state import parse_timestamp

    value = parse_timestamp(iso)
    assert value is not None
    return value


def _iso(ts: int) -> str:
    from tap_stripe_billing.windows import iso_utc

    return iso_utc(ts)


def _catalog(tap_cfg: Path) -> str:
    """The discovered catalog with the three lifecycle streams selected (billed left out)."""
    found = subprocess.run(
        [str(VENV_BIN / "tap-stripe-billing"), "--config", str(tap_cfg), "--discover"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    catalog = json.loads(found.stdout)
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] in LIFECYCLE
    return json.dumps(catalog)
