"""Singer and singer-sdk conventions, on the real executables: `--version`, `--test`, `--test=schema`,
and the SDK's stream maps through the target (fed the tap's real output for a small account)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from tap_stripe_billing.state import to_iso

from stand_ins.kissmetrics import KissmetricsStandIn
from stand_ins.stripe import LIVE_KEY, AccountConfig, StripeStandIn, generate_account

from .harness import VENV_BIN

KM_KEY = "km_conventions_SECRETCANARY_9d2"
STREAMS = ["subscription_billed", "subscription_canceled", "subscription_changed", "subscription_refunded"]


def run(
    name: str, *args: str, stdin: str | None = None, cwd: Path | None = None, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_STRIPE", "TARGET_KISS", "MELTANO"))}
    env.update(extra_env)
    return subprocess.run(
        [str(VENV_BIN / name), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=cwd,
        check=False,
    )


def messages(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def stripe() -> Iterator[StripeStandIn]:
    cfg = AccountConfig(
        seed=57, invoices=300, history_days=45, horizon_days=2, change_share=0.3, refund_share=0.12
    )
    with StripeStandIn(generate_account(cfg), port=0) as server:
        yield server


@pytest.fixture(scope="module")
def tap_config(stripe: StripeStandIn, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tap") / "tap.json"
    start = to_iso(stripe.account.now - 40 * 86_400)
    config = {"api_key": LIVE_KEY, "api_url": stripe.url, "start_date": start, "max_requests_per_second": 500}
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module")
def tap_output(tap_config: Path) -> str:
    done = run("tap-stripe-billing", "--config", str(tap_config))
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


# -- --version ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "package"),
    [("tap-stripe-billing", "tap_stripe_billing"), ("target-kissmetrics", "target_kissmetrics")],
)
def test_version_prints_the_installed_version(name: str, package: str) -> None:
    done = run(name, "--version")
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(rf"{name} v{re.escape(version(name))}, Meltano SDK v[\d.]+\n", done.stdout), (
        done.stdout
    )


# -- --test and --test=schema -------------------------------------------------------------------------
@pytest.mark.slow
def test_test_flag_syncs_one_record_per_stream_and_moves_no_bookmark(
    stripe: StripeStandIn, tap_config: Path, tap_output: str, tmp_path: Path
) -> None:
    """singer-sdk: "Use --test to sync a single record for each stream"."""
    done = run("tap-stripe-billing", "--config", str(tap_config), "--test")
    assert done.returncode == 0, done.stderr[-3000:]
    out = messages(done.stdout)
    schemas = sorted(m["stream"] for m in out if m["type"] == "SCHEMA")
    records = [m for m in out if m["type"] == "RECORD"]
    assert schemas == STREAMS
    assert sorted(m["stream"] for m in records) == STREAMS, "one record for each stream"
    full = {json.dumps(m["record"], sort_keys=True) for m in messages(tap_output) if m["type"] == "RECORD"}
    assert all(json.dumps(m["record"], sort_keys=True) in full for m in records), "real records"
    # The STATE a --test run prints holds no bookmark: a run resumed from it reads everything again.
    states = [m["value"] for m in out if m["type"] == "STATE"]
    assert states
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(states[-1]))
    resumed = run("tap-stripe-billing", "--config", str(tap_config), "--state", str(state_file))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    again = {
        json.dumps(m["record"], sort_keys=True) for m in messages(resumed.stdout) if m["type"] == "RECORD"
    }
    assert again == full


@pytest.mark.slow
def test_test_schema_flag_prints_every_schema_and_asks_stripe_nothing(
    stripe: StripeStandIn, tap_config: Path
) -> None:
    """singer-sdk: "Use --test=schema to test schema output without syncing records"."""
    stripe.reset_stats()
    done = run("tap-stripe-billing", "--config", str(tap_config), "--test=schema")
    assert done.returncode == 0, done.stderr[-3000:]
    out = messages(done.stdout)
    assert [m["type"] for m in out] == ["SCHEMA"] * len(STREAMS)
    assert sorted(m["stream"] for m in out) == STREAMS
    assert stripe.stats() == {}, "no request to Stripe"
    catalog = json.loads(run("tap-stripe-billing", "--config", str(tap_config), "--discover").stdout)
    discovered = {s["tap_stream_id"]: (s["schema"], s["key_properties"]) for s in catalog["streams"]}
    assert {m["stream"]: (m["schema"], m["key_properties"]) for m in out} == discovered


# -- stream_maps through the target ---------------------------------------------------------------------
def deliver(tap_output: str, tmp_path: Path, **extra: Any) -> tuple[list[list[tuple[str, str]]], list[str]]:
    """Feed the tap's output to `target-kissmetrics` (fresh KISSmetrics, fresh journal); return each
    request's parameters (sorted, `_k` left out) and the STATE lines the target printed."""
    with KissmetricsStandIn(api_key=KM_KEY) as km:
        config = {
            "api_key": KM_KEY,
            "tracking_url": km.url,
            "journal_path": str(tmp_path / "j.sqlite"),
            **extra,
        }
        path = tmp_path / "target.json"
        path.write_text(json.dumps(config))
        done = run("target-kissmetrics", "--config", str(path), stdin=tap_output, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        assert km.violations() == []
        requests = sorted(sorted((k, v) for k, v in r.params if k != "_k") for r in km.requests)
        (tmp_path / "j.sqlite").unlink()
        return requests, [line for line in done.stdout.splitlines() if line.strip()]


def event_name(request: list[tuple[str, str]]) -> str:
    return dict(request)["_n"]


@pytest.mark.slow
def test_stream_maps_through_the_target(tap_output: str, tmp_path: Path) -> None:
    baseline, states = deliver(tap_output, tmp_path)
    names = {event_name(r) for r in baseline}
    assert {"Subscription Billed", "Refunded", "Subscription Canceled"} <= names
    tap_states = [m["value"] for m in messages(tap_output) if m["type"] == "STATE"]
    assert json.loads(states[-1]) == tap_states[-1], "the target hands on the tap's final state"

    # Dropping a field no event uses changes nothing KISSmetrics sees.
    dropped, dropped_states = deliver(
        tap_output, tmp_path, stream_maps={"subscription_billed": {"billing_reason": "__NULL__"}}
    )
    assert dropped == baseline
    assert dropped_states == states

    # Removing a stream removes exactly its events.
    no_refunds, _ = deliver(tap_output, tmp_path, stream_maps={"subscription_refunded": "__NULL__"})
    assert no_refunds == [r for r in baseline if event_name(r) != "Refunded"]

    # A filter keeps the records it matches: billed invoices of more than 100 (the record's `amount`).
    amounts = {
        m["record"]["invoice_id"]: m["record"]["amount"]
        for m in messages(tap_output)
        if m["type"] == "RECORD" and m["stream"] == "subscription_billed"
    }
    big = {i for i, amount in amounts.items() if amount > 100}
    assert 0 < len(big) < len(amounts)
    filtered, _ = deliver(
        tap_output, tmp_path, stream_maps={"subscription_billed": {"__filter__": "bool(amount > 100)"}}
    )
    expected = [
        r for r in baseline if event_name(r) != "Subscription Billed" or dict(r)["Stripe Invoice ID"] in big
    ]
    assert filtered == expected

    # An expression changes a field an event uses: the plan level reaches KISSmetrics upper-cased.
    upper, _ = deliver(
        tap_output,
        tmp_path,
        stream_maps={
            "subscription_billed": {"plan_level": "plan_level.upper() if plan_level else plan_level"}
        },
    )

    def shout(request: list[tuple[str, str]]) -> list[tuple[str, str]]:
        if event_name(request) != "Subscription Billed":
            return request
        return sorted((k, v.upper() if k == "Subscription Plan Level" else v) for k, v in request)

    assert upper == sorted(shout(r) for r in baseline)
    assert upper != baseline


# -- settings from the environment (`--config ENV`, singer-sdk) ----------------------------------------
@pytest.mark.slow
def test_config_env_reads_settings_from_prefixed_environment_variables(
    stripe: StripeStandIn, tap_output: str, tmp_path: Path
) -> None:
    start = to_iso(stripe.account.now - 40 * 86_400)
    tap = run(
        "tap-stripe-billing",
        "--config",
        "ENV",
        TAP_STRIPE_BILLING_API_KEY=LIVE_KEY,
        TAP_STRIPE_BILLING_API_URL=stripe.url,
        TAP_STRIPE_BILLING_START_DATE=start,
        TAP_STRIPE_BILLING_MAX_REQUESTS_PER_SECOND="500",
    )
    assert tap.returncode == 0, tap.stderr[-3000:]
    records = [m["record"] for m in messages(tap.stdout) if m["type"] == "RECORD"]
    same = [m["record"] for m in messages(tap_output) if m["type"] == "RECORD"]
    assert sorted(map(json.dumps, records)) == sorted(map(json.dumps, same))  # backfill order varies
    assert LIVE_KEY not in tap.stderr

    with KissmetricsStandIn(api_key=KM_KEY) as km:
        target = run(
            "target-kissmetrics",
            "--config",
            "ENV",
            stdin=tap_output,
            cwd=tmp_path,
            TARGET_KISSMETRICS_API_KEY=KM_KEY,
            TARGET_KISSMETRICS_TRACKING_URL=km.url,
            TARGET_KISSMETRICS_JOURNAL_PATH=str(tmp_path / "journal.sqlite"),
        )
        assert target.returncode == 0, target.stderr[-3000:]
        assert len(km.requests) == sum(1 for r in records if r.get("customer_email"))
        assert KM_KEY not in target.stderr
    # Without the key, the tap stops with one line before any request.
    missing = run("tap-stripe-billing", "--config", "ENV", TAP_STRIPE_BILLING_API_URL=stripe.url)
    assert missing.returncode != 0 and "api_key" in missing.stderr


@pytest.mark.slow
def test_stream_maps_in_the_tap(tap_config: Path, tap_output: str, tmp_path: Path) -> None:
    """The tap declares `stream-maps` too: a filter, a dropped field and a dropped stream, at the source."""
    maps = {
        "subscription_billed": {"__filter__": "bool(amount > 100)", "billing_reason": "__NULL__"},
        "subscription_refunded": "__NULL__",
    }
    config = tmp_path / "tap.json"
    config.write_text(json.dumps({**json.loads(tap_config.read_text()), "stream_maps": maps}))
    done = run("tap-stripe-billing", "--config", str(config))
    assert done.returncode == 0, done.stderr[-3000:]
    mapped = messages(done.stdout)
    want = []
    for m in messages(tap_output):
        if m["type"] != "RECORD" or m["stream"] == "subscription_refunded":
            continue
        record = dict(m["record"])
        if m["stream"] == "subscription_billed":
            if not record["amount"] > 100:
                continue
            del record["billing_reason"]
        want.append(json.dumps([m["stream"], record], sort_keys=True))
    got = [json.dumps([m["stream"], m["record"]], sort_keys=True) for m in mapped if m["type"] == "RECORD"]
    assert sorted(got) == sorted(want)
    assert any(m["stream"] == "subscription_billed" for m in mapped if m["type"] == "RECORD")
    [billed_schema] = [m for m in mapped if m["type"] == "SCHEMA" and m["stream"] == "subscription_billed"]
    assert "billing_reason" not in billed_schema["schema"]["properties"]
